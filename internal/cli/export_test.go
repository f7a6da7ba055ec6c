package cli

// Kinds are the destination kinds serve offers, for the tests that check
// that every one appears wherever kinds are listed.
var Kinds = kinds

// ConfigFileSettings are the serve flags a config file sets, as the
// config file hands them to serve, for the configuration reference.
func ConfigFileSettings() map[string]bool {
	settings := map[string]bool{}
	for name := range (&ConfigFile{RejectionsMax: 1, AdminTLS: true}).values() {
		settings[name] = true
	}
	settings["tls-domain"] = true // a list, read by tlsDomains
	return settings
}

// UserAgent is what hooklatch's requests say in their User-Agent header.
var UserAgent = userAgent
