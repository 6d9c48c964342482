package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTrustedProxiesSetting: SIGNOFF_TRUSTED_PROXIES takes CIDRs and addresses separated by commas;
// unset trusts no proxy; anything unparsable, or a range of every address, stops the process.
func TestTrustedProxiesSetting(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    []string
		wantErr string
	}{
		{"", nil, ""},
		{"10.0.0.0/8", []string{"10.0.0.0/8"}, ""},
		{" 10.0.0.0/8 , 192.0.2.7,, fd00::/8 ", []string{"10.0.0.0/8", "192.0.2.7", "fd00::/8"}, ""},
		{"2001:db8::1", []string{"2001:db8::1"}, ""},
		{"10.0.0.0/33", nil, `"10.0.0.0/33" is not a CIDR`},
		{"lb.internal", nil, `"lb.internal" is not an IP address or CIDR`},
		{"10.0.0.0/8,0.0.0.0/0", nil, `"0.0.0.0/0" trusts every address`},
		{"::/0", nil, `"::/0" trusts every address`},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Setenv("SIGNOFF_TRUSTED_PROXIES", tc.value)
			c, err := Load()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, "SIGNOFF_TRUSTED_PROXIES")
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, c.TrustedProxies)
		})
	}
}
