package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// FreePort returns a TCP port of 127.0.0.1 that nothing listened on a moment ago, for a server the
// test starts (or, left unused, for an address nothing answers on).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr returns "127.0.0.1:P" for a free port P.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}

// FreePortWithOffsets returns a free port P of 127.0.0.1 such that P+offset is free too for every
// offset: the Temporal dev server puts its Web UI on P+1000 and its metrics on P+2000.
func FreePortWithOffsets(t testing.TB, offsets ...int) int {
	t.Helper()
	for try := 0; try < 100; try++ {
		p := FreePort(t)
		ok := true
		for _, off := range offsets {
			if p+off >= 65536 || !portFree(p+off) {
				ok = false
				break
			}
		}
		if ok {
			return p
		}
	}
	t.Fatalf("testenv: no free port P with P+%v free after 100 tries", offsets)
	return 0
}

// FreeAddrWithOffsets returns "127.0.0.1:P" for a FreePortWithOffsets P.
func FreeAddrWithOffsets(t testing.TB, offsets ...int) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePortWithOffsets(t, offsets...))
}

// FreePortBlock finds n consecutive free TCP ports of 127.0.0.1, all below 32768 (a Temporal server
// stores its membership ports as a Postgres smallint), and returns the first. cmd/testenv uses it
// outside any test, hence the error rather than a testing.TB.
func FreePortBlock(n int) (int, error) {
	for try := 0; try < 50; try++ {
		base := 20000 + rand.IntN(12000)
		ok := true
		for p := base; p < base+n && ok; p++ {
			ok = portFree(p)
		}
		if ok {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no %d consecutive free ports found", n)
}

// portFree reports whether port of 127.0.0.1 can be listened on.
func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
