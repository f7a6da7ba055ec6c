package event

import "testing"

func TestStatusRank(t *testing.T) {
	t.Parallel()

	order := []string{"SCHEDULED", "QUEUED", "PROCESSED", "ROUTED", "SENT", "DELIVERED", "READ"}
	for i := 1; i < len(order); i++ {
		if StatusRank(order[i-1]) >= StatusRank(order[i]) {
			t.Errorf("StatusRank(%s) >= StatusRank(%s)", order[i-1], order[i])
		}
	}

	tests := []struct {
		status string
		want   int
	}{
		{"SCHEDULED", 1}, {"QUEUED", 2}, {"PROCESSED", 3}, {"ROUTED", 4}, {"SENT", 5}, {"DELIVERED", 6}, {"READ", 7},
		{"delivered", 6}, {" Read ", 7},
		{"FAILED", 0}, {"FILTERED", 0}, {"BLOCKED", 0}, {"RECEIVED", 0},
		{"", 0}, {"APPROVED", 0}, {"UNDELIVERED", 0},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			t.Parallel()
			if got := StatusRank(tt.status); got != tt.want {
				t.Errorf("StatusRank(%q) = %d, want %d", tt.status, got, tt.want)
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	t.Parallel()

	tests := []struct {
		status string
		want   bool
	}{
		{"READ", true}, {"RECEIVED", true}, {"FAILED", true}, {"FILTERED", true}, {"BLOCKED", true},
		{"failed", true},
		{"SCHEDULED", false}, {"QUEUED", false}, {"ROUTED", false}, {"SENT", false}, {"DELIVERED", false},
		{"", false}, {"APPROVED", false},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			t.Parallel()
			if got := IsTerminal(tt.status); got != tt.want {
				t.Errorf("IsTerminal(%q) = %v, want %v", tt.status, got, tt.want)
			}
		})
	}
}

func TestSupersedes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		next, current string
		want          bool
	}{
		// The happy path moves forward only.
		{"ROUTED", "QUEUED", true},
		{"DELIVERED", "SENT", true},
		{"DELIVERED", "ROUTED", true}, // some carriers skip SENT
		{"READ", "DELIVERED", true},
		{"QUEUED", "SCHEDULED", true},
		{"SENT", "DELIVERED", false}, // out of order
		{"QUEUED", "ROUTED", false},  // re-fired on a reroute
		{"ROUTED", "SENT", false},    // re-fired on a reroute
		{"SENT", "SENT", false},      // duplicate
		// Failures: the latest status counts.
		{"FAILED", "DELIVERED", true},
		{"FAILED", "SENT", true},
		{"FILTERED", "QUEUED", true},
		{"BLOCKED", "SCHEDULED", true},
		{"FAILED", "READ", false},
		{"DELIVERED", "FAILED", false},
		{"READ", "FAILED", false},
		{"FAILED", "FILTERED", false},
		// Terminal statuses stay.
		{"DELIVERED", "READ", false},
		{"SENT", "RECEIVED", false},
		// Empty and unknown.
		{"QUEUED", "", true},
		{"FAILED", "", true},
		{"", "QUEUED", false},
		{"", "", false},
		{"DELIVERED", "UNDELIVERED", true},
		{"RECEIVED", "MYSTERY", true},
		{"MYSTERY", "QUEUED", false},
		// Case does not matter.
		{"delivered", "SENT", true},
		{"Sent", "sent", false},
	}
	for _, tt := range tests {
		t.Run(tt.next+"_over_"+tt.current, func(t *testing.T) {
			t.Parallel()
			if got := Supersedes(tt.next, tt.current); got != tt.want {
				t.Errorf("Supersedes(%q, %q) = %v, want %v", tt.next, tt.current, got, tt.want)
			}
		})
	}
}
