package cli

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildInfoWrite(t *testing.T) {
	t.Parallel()
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/hooklatch/hooklatch", Version: "v0.0.0-20261205234625-7594f77abcde+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs.revision", Value: "7594f77abcde0123456789abcdef0123456789ab"},
			{Key: "vcs.time", Value: "2026-12-05T23:46:25Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tc := range []struct {
		name                         string
		bi                           *debug.BuildInfo
		version, revision, buildTime string
		want                         string
	}{
		{
			name: "stamped by go build in a checkout",
			bi:   stamped,
			want: `hooklatch v0.0.0-20261205234625-7594f77abcde+dirty
  revision   7594f77abcde0123456789abcdef0123456789ab
  modified   true
  committed  2026-12-05T23:46:25Z
  go         go1.26.8 linux/arm64
`,
		},
		{
			name: "a release build's overrides win",
			bi:   stamped, version: "v1.2.3", revision: "0123456789abcdef0123456789abcdef01234567", buildTime: "2026-12-06T01:00:00Z",
			want: `hooklatch v1.2.3+dirty
  revision   0123456789abcdef0123456789abcdef01234567
  modified   true
  committed  2026-12-05T23:46:25Z
  built      2026-12-06T01:00:00Z
  go         go1.26.8 linux/arm64
`,
		},
		{
			name: "outside a checkout",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "GOOS", Value: "darwin"}, {Key: "GOARCH", Value: "amd64"}}},
			want: `hooklatch (devel)
  revision   unknown (built outside a git checkout)
  go         go1.26.8 darwin/amd64
`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			if err := buildInfo(tc.bi, tc.version, tc.revision, tc.buildTime).Write(&out); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tc.want)
			}
		})
	}
}

func TestBuildInfoWithoutStamp(t *testing.T) {
	t.Parallel()
	info := buildInfo(nil, "", "", "")
	if info.Version != "(devel)" || info.Revision != "" || info.GoVersion == "" || !strings.Contains(info.Platform, "/") {
		t.Errorf("no build info gave %+v", info)
	}
}

func TestHealthzURL(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"127.0.0.1:3001": "http://127.0.0.1:3001/healthz",
		":3001":          "http://127.0.0.1:3001/healthz",
		"0.0.0.0:9001":   "http://127.0.0.1:9001/healthz",
		"[::]:3001":      "http://[::1]:3001/healthz",
		"localhost:3001": "http://localhost:3001/healthz",
		"10.1.2.3:3001":  "http://10.1.2.3:3001/healthz",
		"[fd00::1]:3001": "http://[fd00::1]:3001/healthz",
	} {
		got, err := healthzURL(addr)
		if err != nil || got != want {
			t.Errorf("healthzURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	for _, addr := range []string{"off", "3001", ""} {
		if got, err := healthzURL(addr); err == nil || ExitCode(err) != ExitUsage {
			t.Errorf("healthzURL(%q) = %q, %v; want a usage error", addr, got, err)
		}
	}
}
