package admin

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/store"
)

//go:embed ui
var uiFiles embed.FS

const stylePath = "/ui/static/style.css"

// contentSecurityPolicy allows nothing but the dashboard's own script and
// style sheet: no inline script, no inline style, nothing from elsewhere,
// no framing. An event body that got past the escaping could still run
// nothing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ui is the dashboard: server-rendered pages (html/template escapes
// everything shown) and one small script for the live tail.
type ui struct {
	a     *Admin
	pages map[string]*template.Template
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"ms": func(d time.Duration) string {
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + " ms"
	},
	"short": func(id string) string {
		if len(id) > 8 {
			return id[len(id)-8:]
		}
		return id
	},
	"code": func(c int) string {
		if c == 0 {
			return "-"
		}
		return strconv.Itoa(c)
	},
	"pathEscape": url.PathEscape,
	"canRetry":   func(status store.DeliveryStatus) bool { return status == store.DeliveryDead },
	"canDiscard": func(status store.DeliveryStatus) bool {
		return status == store.DeliveryPending || status == store.DeliveryDead
	},
	"canReplay": func(status store.DeliveryStatus) bool { return status != store.DeliveryInFlight },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}

func newUI(a *Admin) (*ui, error) {
	u := &ui{a: a, pages: map[string]*template.Template{}}
	for _, name := range []string{"overview", "events", "event", "subject", "dead", "rejections", "rejection", "login", "bulk"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(uiFiles, "ui/layout.html", "ui/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard template %s: %w", name, err)
		}
		u.pages[name] = t
	}
	static, err := fs.Sub(uiFiles, "ui/static")
	if err != nil {
		return nil, err
	}
	m := a.mux
	m.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /ui/{$}", u.overview)
	m.HandleFunc("GET /ui/charts", u.charts)
	m.HandleFunc("GET /ui/events", u.events)
	m.HandleFunc("GET /ui/events/{id}", u.event)
	m.HandleFunc("GET /ui/subjects/{subject}", u.subject)
	m.HandleFunc("POST /ui/events/{id}/{action}", u.eventAction)
	m.HandleFunc("POST /ui/deliveries/{id}/{action}", u.deliveryAction)
	m.HandleFunc("GET /ui/actions/{action}", u.bulkConfirm)
	m.HandleFunc("POST /ui/actions/{action}", u.bulkDo)
	m.HandleFunc("POST /ui/destinations/{name}/{action}", u.destinationAction)
	m.HandleFunc("GET /ui/dead", u.dead)
	m.HandleFunc("POST /ui/dead/{action}", u.deadAction)
	m.HandleFunc("GET /ui/rejections", u.rejections)
	m.HandleFunc("GET /ui/rejections/{id}", u.rejection)
	m.HandleFunc("POST /ui/rejections/{id}/release", u.release)
	m.HandleFunc("POST /ui/rejections/release", u.release)
	m.HandleFunc("GET "+LoginPath, u.loginPage)
	m.HandleFunc("POST "+LoginPath, u.login)
	m.HandleFunc("POST /ui/logout", u.logout)
	m.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		u.render(w, r, http.StatusNotFound, "overview", page{Title: "Not found", Error: "No such page: " + r.URL.Path})
	})
	return u, nil
}

// page is what every template gets; Data is the page's own.
type page struct {
	Title  string
	Nav    string
	Token  bool   // the listener has a token: show "log out"
	Notice string // what the last action did
	Error  string
	Data   any
}

func (u *ui) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	setPageHeaders(w.Header())
	p.Token = u.a.cfg.Token != ""
	if p.Notice == "" {
		p.Notice = notice(r.URL.Query())
	}
	var buf bytes.Buffer
	if err := u.pages[name].Execute(&buf, p); err != nil {
		u.a.cfg.Logger.Error("dashboard: rendering", "page", name, "err", err)
		http.Error(w, "the page could not be rendered; the log says why", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// setPageHeaders sets the headers every dashboard page has.
func setPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// Not no-referrer: with it, a browser sends "Origin: null" on the
	// dashboard's own form posts, which the origin check must refuse.
	h.Set("Referrer-Policy", "same-origin")
}

// notice words what the last action did from the redirect's query: codes
// and numbers only, so that a crafted link cannot put words on the page.
func notice(v url.Values) string {
	n, err := strconv.Atoi(v.Get("n"))
	if err != nil {
		return ""
	}
	things := "deliveries"
	if n == 1 {
		things = "delivery"
	}
	switch v.Get("done") {
	case "retry":
		return fmt.Sprintf("%d %s requeued for a retry.", n, things)
	case "replay":
		return fmt.Sprintf("%d %s requeued for a replay.", n, things)
	case "discard":
		return fmt.Sprintf("%d %s discarded.", n, things)
	case "pause":
		return fmt.Sprintf("%s paused: %d %s waiting; nothing is attempted until it is resumed.", v.Get("destination"), n, things)
	case "resume":
		return fmt.Sprintf("%s resumed: delivering its %d waiting %s, oldest first.", v.Get("destination"), n, things)
	case "release":
		failing, _ := strconv.Atoi(v.Get("failing"))
		return fmt.Sprintf("%d released, %d still failing verification.", n, failing)
	}
	return ""
}

func (u *ui) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "The store could not answer; the log says why."
	var amb *store.AmbiguousError
	switch {
	case errors.As(err, &amb):
		status, msg = http.StatusConflict, amb.Error()
	case isNotFound(err):
		status, msg = http.StatusNotFound, "Not found: "+strings.TrimPrefix(err.Error(), store.ErrNotFound.Error()+": ")
	case isBadRequest(err):
		status, msg = http.StatusBadRequest, err.Error()
	default:
		u.a.cfg.Logger.Error("dashboard", "path", r.URL.Path, "err", err)
	}
	u.render(w, r, status, "overview", page{Title: "Error", Error: msg})
}

// overviewData is the front page: the queue, the charts, the live tail.
type overviewData struct {
	Stats        statsReport
	Charts       charts
	Destinations []inspect.Destination
}

func (u *ui) overview(w http.ResponseWriter, r *http.Request) {
	rep, err := u.a.statsReport(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	ds, err := u.a.in.Destinations(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview",
		Data: overviewData{Stats: rep, Charts: newCharts(rep.Minutes, u.a.now()), Destinations: ds}})
}

// destinationAction is the overview's pause and resume buttons.
func (u *ui) destinationAction(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	if action != "pause" && action != "resume" {
		u.fail(w, r, bad("no action %q: pause or resume", action))
		return
	}
	d, err := u.a.in.Pause(r.Context(), r.PathValue("name"), action == "pause")
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.a.cfg.Notify()
	http.Redirect(w, r, "/ui/?"+url.Values{"done": {action}, "n": {strconv.FormatInt(d.Pending, 10)}, "destination": {d.Name}}.Encode(), http.StatusSeeOther)
}

// charts is the overview's charts alone, as HTML: the page's script
// fetches them again when the live stream says the minutes changed. They
// come from memory: no store is read.
func (u *ui) charts(w http.ResponseWriter, r *http.Request) {
	now := u.a.now()
	var buf bytes.Buffer
	if err := u.pages["overview"].ExecuteTemplate(&buf, "charts", newCharts(u.a.stats.report(now), now)); err != nil {
		u.a.cfg.Logger.Error("dashboard: rendering", "page", "charts", "err", err)
		http.Error(w, "the charts could not be rendered; the log says why", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w.Header())
	w.Write(buf.Bytes())
}

type eventsData struct {
	Filter FilterParams
	States []string
	Page   eventPage
	Next   string // the next page's URL
	// Bulk is the filter, as the bulk actions' hidden fields; none when
	// the filter selects every event.
	Bulk [][2]string
}

func (u *ui) events(w http.ResponseWriter, r *http.Request) {
	u.list(w, r, "events", "Events")
}

func (u *ui) dead(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	q.Set("delivery", string(store.DeliveryDead))
	r.URL.RawQuery = q.Encode()
	u.list(w, r, "dead", "Dead letters")
}

func (u *ui) list(w http.ResponseWriter, r *http.Request, name, title string) {
	p, _, err := u.a.listEvents(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := eventsData{Filter: filterFromQuery(r.URL.Query()), States: store.DeliveryStates(), Page: p}
	if name == "events" {
		d.Bulk = d.Filter.fields()
	}
	if p.Next != "" {
		q := r.URL.Query()
		q.Set("cursor", p.Next)
		q.Del("done")
		q.Del("n")
		d.Next = r.URL.Path + "?" + q.Encode()
	}
	u.render(w, r, http.StatusOK, name, page{Title: title, Nav: name, Data: d})
}

// shownEvent is the event page.
type shownEvent struct {
	D       *inspect.Detail
	Body    string // pretty-printed when JSON
	IsJSON  bool
	Headers [][2]string
	Payload string
}

func (u *ui) event(w http.ResponseWriter, r *http.Request) {
	d, err := u.a.event(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	s := shownEvent{D: d, Body: string(d.Event.Body)}
	var buf bytes.Buffer
	if json.Indent(&buf, d.Event.Body, "", "  ") == nil {
		s.Body, s.IsJSON = buf.String(), true
	}
	for k, v := range d.Event.Headers {
		s.Headers = append(s.Headers, [2]string{k, v})
	}
	slices.SortFunc(s.Headers, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	u.render(w, r, http.StatusOK, "event", page{Title: "Event " + d.Event.ID, Nav: "events", Data: s})
}

// shownSubject is the subject page's data: its state, and its events in
// the order they were received.
type shownSubject struct {
	D        *inspect.SubjectDetail
	Received []store.Event
}

// subject shows a subject's latest state and its lifecycle as received,
// the events that arrived out of order marked.
func (u *ui) subject(w http.ResponseWriter, r *http.Request) {
	d, err := u.a.in.Subject(r.Context(), r.URL.Query().Get("source"), r.PathValue("subject"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	s := shownSubject{D: d, Received: slices.Clone(d.Events)}
	slices.Reverse(s.Received) // oldest first: the order they came in
	u.render(w, r, http.StatusOK, "subject", page{Title: "Subject " + d.State.Subject, Nav: "events", Data: s})
}

// done redirects to back, saying what the action did.
func done(w http.ResponseWriter, r *http.Request, back, action string, n int) {
	http.Redirect(w, r, back+"?done="+action+"&n="+strconv.Itoa(n), http.StatusSeeOther)
}

func (u *ui) act(r *http.Request, action string, t inspect.Target) (int, error) {
	var n int
	var err error
	switch action {
	case "retry":
		n, err = u.a.in.Retry(r.Context(), t)
	case "replay":
		n, err = u.a.in.Replay(r.Context(), t)
	case "discard":
		n, err = u.a.in.Discard(r.Context(), t)
	default:
		return 0, bad("no action %q: retry, replay or discard", action)
	}
	if err == nil && n > 0 && action != "discard" {
		u.a.cfg.Notify()
	}
	return n, err
}

func (u *ui) eventAction(w http.ResponseWriter, r *http.Request) {
	evs, err := u.a.in.Find(r.Context(), []string{r.PathValue("id")})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	n, err := u.act(r, r.PathValue("action"), inspect.Target{EventIDs: []string{evs[0].ID}})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	done(w, r, "/ui/events/"+url.PathEscape(evs[0].ID), r.PathValue("action"), n)
}

func (u *ui) deliveryAction(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		u.fail(w, r, bad("delivery id %q: want a number", r.PathValue("id")))
		return
	}
	n, err := u.act(r, r.PathValue("action"), inspect.Target{DeliveryIDs: []int64{id}})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	back := "/ui/events"
	if ev := r.PostFormValue("event"); ev != "" {
		back += "/" + url.PathEscape(ev)
	}
	done(w, r, back, r.PathValue("action"), n)
}

// deadAction retries or discards the dead deliveries of the events
// checked, or with all=1 every dead delivery.
func (u *ui) deadAction(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, bad("form: %v", err))
		return
	}
	t := inspect.Target{Dead: true, EventIDs: r.PostForm["event"]}
	if r.PostFormValue("all") == "1" {
		t.EventIDs = nil // every dead delivery, ticked or not
	} else if len(t.EventIDs) == 0 {
		u.fail(w, r, bad("tick the events to act on, or use the button for every dead delivery"))
		return
	}
	n, err := u.act(r, r.PathValue("action"), t)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	done(w, r, "/ui/dead", r.PathValue("action"), n)
}

func (u *ui) rejections(w http.ResponseWriter, r *http.Request) {
	rs, err := u.a.in.Rejections(r.Context(), 200)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "rejections", page{Title: "Rejections", Nav: "rejections", Data: rs})
}

func (u *ui) rejection(w http.ResponseWriter, r *http.Request) {
	id, err := u.a.rejectionID(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	rj, err := u.a.in.Rejection(r.Context(), id)
	if err != nil {
		u.fail(w, r, fmt.Errorf("%w: no rejection %d (it may have been dropped to stay within the log's caps)", err, id))
		return
	}
	headers := make([][2]string, 0, len(rj.Headers))
	for k, v := range rj.Headers {
		headers = append(headers, [2]string{k, v})
	}
	slices.SortFunc(headers, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	u.render(w, r, http.StatusOK, "rejection", page{Title: fmt.Sprintf("Rejection %d", id), Nav: "rejections",
		Data: struct {
			R       *store.Rejection
			Headers [][2]string
			Body    string
		}{rj, headers, string(rj.Body)}})
}

func (u *ui) release(w http.ResponseWriter, r *http.Request) {
	var ids []int64
	back := "/ui/rejections"
	if s := r.PathValue("id"); s != "" {
		id, err := u.a.rejectionID(r)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		ids, back = []int64{id}, "/ui/rejections/"+s
	}
	rep, err := u.a.in.Release(r.Context(), u.a.cfg.Secrets, ids)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if rep.Released > 0 {
		u.a.cfg.Notify()
	}
	http.Redirect(w, r, fmt.Sprintf("%s?done=release&n=%d&failing=%d", back, rep.Released, rep.StillFailing), http.StatusSeeOther)
}

func (u *ui) loginPage(w http.ResponseWriter, r *http.Request) {
	if u.a.cfg.Token == "" {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	u.render(w, r, http.StatusOK, "login", page{Title: "Log in"})
}

// login checks the token once and starts a session (see sessions) kept in
// the session cookie. A wrong token counts against the client's address
// as on the API.
func (u *ui) login(w http.ResponseWriter, r *http.Request) {
	if u.a.cfg.Token == "" {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	client := clientKey(r)
	if u.a.refused(w, r, client) {
		return
	}
	got := sha256.Sum256([]byte(r.PostFormValue("token")))
	want := sha256.Sum256([]byte(u.a.cfg.Token))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		u.a.failed(client)
		u.render(w, r, http.StatusUnauthorized, "login", page{Title: "Log in", Error: "That is not the admin token (HOOKLATCH_ADMIN_TOKEN)."})
		return
	}
	http.SetCookie(w, u.a.sessionCookie(r, u.a.sessions.issue(), int(u.a.cfg.SessionTTL/time.Second)))
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// logout ends the session, here and in the browser.
func (u *ui) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil && u.a.sessions != nil {
		u.a.sessions.revoke(c.Value)
	}
	http.SetCookie(w, u.a.sessionCookie(r, "", -1))
	http.Redirect(w, r, LoginPath, http.StatusSeeOther)
}
