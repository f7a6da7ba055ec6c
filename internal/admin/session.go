package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sync"
	"time"
)

// DefaultSessionTTL is how long a dashboard session lasts.
const DefaultSessionTTL = 12 * time.Hour

// maxRevoked bounds the sessions remembered as logged out before their
// time is up.
const maxRevoked = 10000

// sessions issues and checks the dashboard's session cookies. A cookie
// holds a random id and when it was issued, signed with a key derived from
// the admin token: any instance with the same token accepts it (several
// serve behind one address), and none does once the token changes. It
// lasts ttl from its issue, as the ttl is now; a logged-out id is kept in
// a bounded set until its time is up.
type sessions struct {
	key []byte
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	revoked map[[16]byte]time.Time // id → when it would have expired
}

func newSessions(token string, ttl time.Duration, now func() time.Time) *sessions {
	key := sha256.Sum256([]byte("hooklatch admin session key\x00" + token))
	return &sessions{key: key[:], ttl: ttl, now: now, revoked: map[[16]byte]time.Time{}}
}

// sessionBytes is a cookie's length before encoding: id, issue time in
// Unix nanoseconds, HMAC-SHA256 of both.
const sessionBytes = 16 + 8 + sha256.Size

func (s *sessions) sign(id []byte, issued int64) []byte {
	b := make([]byte, 0, sessionBytes)
	b = append(b, id...)
	b = binary.BigEndian.AppendUint64(b, uint64(issued))
	mac := hmac.New(sha256.New, s.key)
	mac.Write(b)
	return mac.Sum(b)
}

// issue returns a new session's cookie value.
func (s *sessions) issue() string {
	id := make([]byte, 16)
	rand.Read(id)
	return base64.RawURLEncoding.EncodeToString(s.sign(id, s.now().UnixNano()))
}

// open checks a cookie value: it returns the session's id and when it
// expires, and whether it is a live session.
func (s *sessions) open(value string) (id [16]byte, expires time.Time, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(b) != sessionBytes {
		return id, expires, false
	}
	issued := int64(binary.BigEndian.Uint64(b[16:24]))
	if !hmac.Equal(b, s.sign(b[:16], issued)) {
		return id, expires, false
	}
	copy(id[:], b[:16])
	expires = time.Unix(0, issued).Add(s.ttl)
	if !s.now().Before(expires) {
		return id, expires, false
	}
	s.mu.Lock()
	_, out := s.revoked[id]
	s.mu.Unlock()
	return id, expires, !out
}

// valid reports whether value is a live session.
func (s *sessions) valid(value string) bool {
	_, _, ok := s.open(value)
	return ok
}

// revoke ends the session value names, if it is live. When the set is
// full, the entries nearest their expiry give way.
func (s *sessions) revoke(value string) {
	id, expires, ok := s.open(value)
	if !ok {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.revoked) >= maxRevoked {
		for k, at := range s.revoked {
			if !now.Before(at) {
				delete(s.revoked, k)
			}
		}
	}
	for len(s.revoked) >= maxRevoked {
		var soonest [16]byte
		var at time.Time
		for k, t := range s.revoked {
			if at.IsZero() || t.Before(at) {
				soonest, at = k, t
			}
		}
		delete(s.revoked, soonest)
	}
	s.revoked[id] = expires
}
