package cli

// Kinds are the destination kinds serve offers, for the tests that check
// that every one appears wherever kinds are listed.
var Kinds = kinds

// UserAgent is what hooklatch's requests say in their User-Agent header.
var UserAgent = userAgent
