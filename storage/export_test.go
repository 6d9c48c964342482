package storage

// EmailHTML is emailHTML, for the tests of package storage_test.
func EmailHTML(title, body string) string { return emailHTML(title, body, nil) }
