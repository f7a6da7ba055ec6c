// Package pgtest gives tests a PostgreSQL store location of their own: a
// fresh schema on the server HOOKLATCH_TEST_POSTGRES names, dropped when
// the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ServerURL returns the test server's URL. Without HOOKLATCH_TEST_POSTGRES
// the test is skipped, or fails when HOOKLATCH_REQUIRE_SERVICES=1.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("HOOKLATCH_TEST_POSTGRES")
	if u == "" {
		if os.Getenv("HOOKLATCH_REQUIRE_SERVICES") == "1" {
			t.Fatal("HOOKLATCH_TEST_POSTGRES is not set and HOOKLATCH_REQUIRE_SERVICES=1: set it to the PostgreSQL server's URL, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
		}
		t.Skip("set HOOKLATCH_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL tests")
	}
	return u
}

// Schema returns a new schema name, dropped with everything in it when
// the test ends. The schema itself is created by whoever opens it.
func Schema(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	var b [6]byte
	rand.Read(b[:])
	name := "test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// URL returns the server's URL with a fresh schema (see Schema).
func URL(t testing.TB) string {
	t.Helper()
	return WithSchema(t, ServerURL(t), Schema(t))
}

// WithSchema returns server's URL naming schema.
func WithSchema(t testing.TB, server, schema string) string {
	t.Helper()
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("HOOKLATCH_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
