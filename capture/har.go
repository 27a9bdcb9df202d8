// Package capture writes exchanges as HAR 1.2 files and reads HAR files
// exported by browsers and proxies back into exchanges.
//
// Writing is crash-safe: every exchange is appended, redacted, as one JSON
// line to a journal beside the capture (FILE.har.journal) with a single
// write, and the journal is fsync'd in the background. Close folds the
// journal into a valid HAR (temporary file + rename) and removes it; after a
// crash or kill -9, Recover does the same with every complete line.
//
// Reading streams: the log header is read token by token and entries are
// decoded one at a time, so a 500 MB export needs memory for a window of
// entries only (see Reader). Exports of Chrome, Edge, Firefox, Fiddler,
// Charles, mitmproxy and HTTP Toolkit are accepted with their quirks.
//
// Every entry carries an "_oauthproxy" extension with the flow id, the
// OAuth label, findings, diagnosis and connection facts, so a capture read
// back gives the same exchanges the live proxy saw.
package capture

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
)

// HAR is the top level of a HAR file.
type HAR struct {
	Log Log `json:"log"`
}

// Log is the "log" object of a HAR file.
type Log struct {
	Version string   `json:"version"`
	Creator Creator  `json:"creator"`
	Browser *Creator `json:"browser,omitempty"`
	Pages   []Page   `json:"pages,omitempty"`
	Entries []Entry  `json:"entries"`
	Comment string   `json:"comment,omitempty"`
}

// Creator names the application that wrote a HAR (also used for "browser").
type Creator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Comment string `json:"comment,omitempty"`
}

// Page is a HAR page; the reader ignores pages, they are kept for completeness.
type Page struct {
	StartedDateTime string          `json:"startedDateTime"`
	ID              string          `json:"id"`
	Title           string          `json:"title"`
	PageTimings     json.RawMessage `json:"pageTimings,omitempty"`
	Comment         string          `json:"comment,omitempty"`
}

// Entry is one HAR entry (one exchange).
type Entry struct {
	Pageref         string   `json:"pageref,omitempty"`
	StartedDateTime string   `json:"startedDateTime"`
	Time            float64  `json:"time"`
	Request         Request  `json:"request"`
	Response        Response `json:"response"`
	Cache           Cache    `json:"cache"`
	Timings         Timings  `json:"timings"`
	ServerIPAddress string   `json:"serverIPAddress,omitempty"`
	// Connection is a connection id (Chrome) or port (Firefox); numbers are accepted on input.
	Connection FlexString `json:"connection,omitempty"`
	Comment    string     `json:"comment,omitempty"`
	// OAuthProxy is oauthproxy's private extension.
	OAuthProxy *Extension `json:"_oauthproxy,omitempty"`
	// Login is the id of the login the exchange belongs to (flow.OAuth.Login):
	// group entries by it to see one login from authorize to token.
	Login string `json:"_login,omitempty"`
	// ResourceType is what Chrome's DevTools say the request was for
	// ("document", "fetch", "xhr", "image", "other"...); read only.
	ResourceType string `json:"_resourceType,omitempty"`
	// SecurityState is Firefox's verdict on the connection ("secure",
	// "insecure", "weak", or "broken": the connection failed with a TLS or
	// certificate error); read only.
	SecurityState string `json:"_securityState,omitempty"`
}

// Request is a HAR request.
type Request struct {
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []Cookie    `json:"cookies"`
	Headers     []NameValue `json:"headers"`
	QueryString []NameValue `json:"queryString"`
	PostData    *PostData   `json:"postData,omitempty"`
	HeadersSize int64       `json:"headersSize"`
	BodySize    int64       `json:"bodySize"`
	Comment     string      `json:"comment,omitempty"`
}

// Response is a HAR response. Status 0 means no response was received.
type Response struct {
	Status      int         `json:"status"`
	StatusText  string      `json:"statusText"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []Cookie    `json:"cookies"`
	Headers     []NameValue `json:"headers"`
	Content     Content     `json:"content"`
	RedirectURL string      `json:"redirectURL"`
	HeadersSize int64       `json:"headersSize"`
	BodySize    int64       `json:"bodySize"`
	Comment     string      `json:"comment,omitempty"`
	// Error is the failure text Chrome and mitmproxy write for failed requests.
	Error string `json:"_error,omitempty"`
}

// NameValue is a header or query parameter.
type NameValue struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Comment string `json:"comment,omitempty"`
}

// Cookie is a HAR cookie.
type Cookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Expires  string `json:"expires,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
	SameSite string `json:"sameSite,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// PostData is a request body. Encoding "base64" (an extension some tools
// and oauthproxy use for binary bodies) means Text is base64.
type PostData struct {
	MimeType string  `json:"mimeType"`
	Params   []Param `json:"params"`
	Text     string  `json:"text"`
	Encoding string  `json:"encoding,omitempty"`
	Comment  string  `json:"comment,omitempty"`
}

// Param is a posted parameter.
type Param struct {
	Name        string `json:"name"`
	Value       string `json:"value,omitempty"`
	FileName    string `json:"fileName,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Comment     string `json:"comment,omitempty"`
}

// Content is a response body; Text is decoded (no Content-Encoding), base64
// when Encoding is "base64".
type Content struct {
	Size        int64  `json:"size"`
	Compression *int64 `json:"compression,omitempty"`
	MimeType    string `json:"mimeType"`
	Text        string `json:"text,omitempty"`
	Encoding    string `json:"encoding,omitempty"`
	Comment     string `json:"comment,omitempty"`
}

// Cache is the HAR cache object; oauthproxy writes it empty.
type Cache struct {
	BeforeRequest json.RawMessage `json:"beforeRequest,omitempty"`
	AfterRequest  json.RawMessage `json:"afterRequest,omitempty"`
	Comment       string          `json:"comment,omitempty"`
}

// Timings are HAR timings in milliseconds; -1 means not applicable.
// Connect includes SSL, as the HAR spec says.
type Timings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	Connect float64 `json:"connect"`
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
	SSL     float64 `json:"ssl"`
	Comment string  `json:"comment,omitempty"`
}

// Extension is the "_oauthproxy" member of an entry.
type Extension struct {
	// Flow is the exchange id.
	Flow      string     `json:"flow,omitempty"`
	Label     flow.Label `json:"label,omitempty"`
	GrantType string     `json:"grant_type,omitempty"`
	Issuer    string     `json:"issuer,omitempty"`
	// LoginLink and LoginTrace are flow.OAuth.LoginLink and LoginTrace (the
	// login id itself is the entry's "_login").
	LoginLink  string          `json:"login_link,omitempty"`
	LoginTrace string          `json:"login_trace,omitempty"`
	Findings   []flow.Finding  `json:"findings,omitempty"`
	Diagnosis  *flow.Diagnosis `json:"diagnosis,omitempty"`
	// Conn holds the connection facts (addresses, TLS, SNI, certificate).
	Conn *flow.Conn `json:"conn,omitempty"`
	// Error is the upstream error when no response came back.
	Error string `json:"error,omitempty"`
	// Truncated says which bodies were cut at the body cap.
	Truncated *Truncation `json:"truncated,omitempty"`
	// DecodeError holds Content-Encoding failures, per side.
	RequestDecodeError  string `json:"request_decode_error,omitempty"`
	ResponseDecodeError string `json:"response_decode_error,omitempty"`
	// RequestEncoding and ResponseEncoding are the Content-Encodings the
	// bodies had on the wire (the HAR text is decoded).
	RequestEncoding  string `json:"request_encoding,omitempty"`
	ResponseEncoding string `json:"response_encoding,omitempty"`
	// Unredacted is true when the entry's secrets were written raw.
	Unredacted bool `json:"unredacted,omitempty"`
}

// Truncation records which bodies were truncated and their full sizes.
type Truncation struct {
	Request      bool  `json:"request,omitempty"`
	RequestSize  int64 `json:"request_size,omitempty"`
	Response     bool  `json:"response,omitempty"`
	ResponseSize int64 `json:"response_size,omitempty"`
}

// FlexString is a string that also accepts a JSON number (some tools write
// "connection" as a number) or null.
type FlexString string

// UnmarshalJSON accepts a string, a number or null.
func (s *FlexString) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		v, err := strconv.Unquote(string(b))
		if err != nil {
			var str string
			if err := json.Unmarshal(b, &str); err != nil {
				return err
			}
			v = str
		}
		*s = FlexString(v)
		return nil
	}
	if strings.ContainsAny(string(b[:1]), "-0123456789") {
		*s = FlexString(b)
		return nil
	}
	return fmt.Errorf("capture: want a string or number, got %.20s", b)
}
