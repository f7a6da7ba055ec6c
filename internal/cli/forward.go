package cli

import "github.com/hooklatch/hooklatch/destination/httpdest"

// forwardURL reads where to forward events as httpdest.ExpandURL does
// (Stripe's and Hookdeck's CLIs' shorthands); what names the setting in
// messages.
func forwardURL(what, raw string) (string, error) {
	u, err := httpdest.ExpandURL(raw)
	if err != nil {
		return "", settingError("", err, func(string) string { return what })
	}
	return u, nil
}
