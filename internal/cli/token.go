package cli

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// TokenOptions are the settings of `hooklatch token`.
type TokenOptions struct {
	// Rand is where the token's bytes come from. Defaults to crypto/rand.
	Rand io.Reader
}

// tokenBytes is a token's randomness: 256 bits, 43 characters.
const tokenBytes = 32

func newTokenCommand(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "token",
		Short: "Print a fresh random admin token",
		Long: `token prints a new random token (32 bytes from the system's secure random
source, in unpadded base64url: 43 characters) for HOOKLATCH_ADMIN_TOKEN.
serve refuses an admin token shorter than 16 characters.`,
		Example: `  export HOOKLATCH_ADMIN_TOKEN=$(hooklatch token)`,
		Args:    args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			return RunToken(env.Stdout, TokenOptions{})
		},
	}
}

// RunToken prints a fresh token to w.
func RunToken(w io.Writer, opts TokenOptions) error {
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	b := make([]byte, tokenBytes)
	if _, err := io.ReadFull(opts.Rand, b); err != nil {
		return fmt.Errorf("reading random bytes: %w", err)
	}
	_, err := fmt.Fprintln(w, base64.RawURLEncoding.EncodeToString(b))
	return err
}
