package devtools

import (
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// JUnitSuiteName names the test suite of a check's JUnit report.
const JUnitSuiteName = "hooklatch check"

// The JUnit XML report, as CI systems read it: one suite, one test case per
// case of the check.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name       string          `xml:"name,attr"`
		Tests      int             `xml:"tests,attr"`
		Failures   int             `xml:"failures,attr"`
		Errors     int             `xml:"errors,attr"`
		Skipped    int             `xml:"skipped,attr"`
		Time       string          `xml:"time,attr"`
		Timestamp  string          `xml:"timestamp,attr,omitempty"`
		Properties []junitProperty `xml:"properties>property,omitempty"`
		Cases      []junitCase     `xml:"testcase"`
	}
	junitProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      string        `xml:"time,attr"`
		Failure   *junitFailure `xml:"failure"`
		Skipped   *junitSkipped `xml:"skipped"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	junitSkipped struct {
		Message string `xml:"message,attr"`
	}
)

// WriteJUnit writes rep as a JUnit XML report: a test suite named
// "hooklatch check" with a test case per result. A FAIL is a test case with
// a failure (the reason as its message, the advice as its text), a SKIP a
// skipped test case, and a WARN a passed one whose system-out carries the
// reason and advice.
func WriteJUnit(w io.Writer, rep Report) error {
	suite := junitSuite{
		Name:     JUnitSuiteName,
		Tests:    len(rep.Results),
		Failures: rep.Count(VerdictFail),
		Skipped:  rep.Count(VerdictSkip),
		Time:     junitSeconds(rep.Took),
	}
	if !rep.Started.IsZero() {
		suite.Timestamp = rep.Started.UTC().Format(time.RFC3339)
	}
	if rep.URL != "" {
		suite.Properties = []junitProperty{{Name: "url", Value: rep.URL}}
	}
	for _, res := range rep.Results {
		c := junitCase{Name: res.Case, Classname: JUnitSuiteName, Time: junitSeconds(res.Took)}
		switch res.Verdict {
		case VerdictFail:
			c.Failure = &junitFailure{Message: res.Reason, Type: string(VerdictFail), Text: res.Advice}
		case VerdictSkip:
			c.Skipped = &junitSkipped{Message: res.Reason}
		case VerdictWarn:
			c.SystemOut = "WARN: " + res.Reason + "\n" + res.Advice
		default:
			c.SystemOut = "PASS: " + res.Reason
		}
		suite.Cases = append(suite.Cases, c)
	}
	doc := junitSuites{
		Name:     JUnitSuiteName,
		Tests:    suite.Tests,
		Failures: suite.Failures,
		Skipped:  suite.Skipped,
		Time:     suite.Time,
		Suites:   []junitSuite{suite},
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	out = append(out, '\n')
	_, err = w.Write(out)
	return err
}

// junitSeconds is d in seconds, as JUnit's time attributes have it.
func junitSeconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}
