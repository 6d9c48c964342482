package storage

// EmailHTML is emailHTML, for the tests of package storage_test.
func EmailHTML(title, body string) string { return emailHTML(title, body, nil) }

// EmailHTMLWithLink is emailHTML with one action, the decision link url (R-ACT-1).
func EmailHTMLWithLink(title, body, url string) string {
	return emailHTML(title, body, []emailAction{{Label: DecisionLinkLabel, URL: url}})
}
