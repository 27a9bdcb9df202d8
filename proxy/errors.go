package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// describeUpstreamError turns an upstream failure into a short reason for
// the 502 body and the exchange ("TLS certificate verification failed:
// x509: certificate signed by unknown authority") and an RFC 9209
// Proxy-Status error type.
func describeUpstreamError(err error, headerTimeout time.Duration) (reason, proxyStatus string) {
	var (
		cve      *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		dnsErr   *net.DNSError
		record   tls.RecordHeaderError
		opErr    *net.OpError
		netErr   net.Error
	)
	switch {
	case errors.As(err, &unknown):
		return "TLS certificate verification failed: " + unknown.Error() + UntrustedHint, "tls_certificate_error"
	case errors.As(err, &cve):
		return "TLS certificate verification failed: " + cve.Err.Error(), "tls_certificate_error"
	case errors.As(err, &hostname):
		return "TLS certificate verification failed: " + hostname.Error(), "tls_certificate_error"
	case errors.As(err, &invalid):
		return "TLS certificate verification failed: " + invalid.Error(), "tls_certificate_error"
	case errors.As(err, &dnsErr):
		what := dnsErr.Err
		if dnsErr.IsNotFound {
			what = "no such host"
		}
		if dnsErr.IsTimeout {
			return "DNS lookup of " + dnsErr.Name + " timed out", "dns_timeout"
		}
		return "DNS lookup of " + dnsErr.Name + " failed: " + what, "dns_error"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", "connection_refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer", "connection_terminated"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host", "destination_unavailable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable", "destination_unavailable"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "cannot bind the egress address: " + rootMessage(err), "proxy_configuration_error"
	case errors.Is(err, syscall.EPIPE):
		return "connection closed by upstream while sending the request (broken pipe)", "connection_terminated"
	case errors.As(err, &record):
		return "TLS handshake failed: the server did not answer with TLS (plain HTTP on an https port?)", "tls_protocol_error"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by upstream before a complete response (EOF)", "connection_terminated"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		msg := err.Error()
		switch {
		case strings.Contains(msg, "awaiting response headers"):
			if headerTimeout > 0 {
				return "no response headers within " + headerTimeout.String() + " (timeout)", "http_response_timeout"
			}
			return "timed out waiting for response headers", "http_response_timeout"
		case strings.Contains(msg, "TLS handshake timeout"):
			return "TLS handshake timed out", "tls_protocol_error"
		case errors.As(err, &opErr) && opErr.Op == "dial":
			return "connect timed out", "connection_timeout"
		}
		return "timed out: " + rootMessage(err), "connection_timeout"
	case errors.Is(err, context.Canceled):
		return "request canceled", "proxy_internal_error"
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		return "TLS handshake failed: " + err.Error(), "tls_protocol_error"
	}
	msg := err.Error()
	if i := strings.Index(msg, "malformed "); i >= 0 && (strings.Contains(msg, "malformed HTTP") || strings.Contains(msg, "malformed MIME")) {
		// net/http could not parse what upstream sent: not a proxy bug.
		return "malformed HTTP response from upstream: " + msg[i:], "http_protocol_error"
	}
	if strings.HasPrefix(msg, "tls: ") {
		return "TLS handshake failed: " + msg, "tls_protocol_error"
	}
	if strings.HasPrefix(msg, "proxyconnect ") {
		return "upstream proxy: " + msg, "proxy_internal_error"
	}
	return msg, "proxy_internal_error"
}

// UntrustedHint ends the message of an upstream certificate signed by an
// authority the proxy does not trust.
const UntrustedHint = " (if the server uses a private or corporate CA, trust it with --upstream-ca FILE)"

// rootMessage is the text of the innermost error of a net.OpError chain.
func rootMessage(err error) string {
	for {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			err = op.Err
			continue
		}
		return err.Error()
	}
}

// describeClientError says why reading a request body from the client
// failed; idle is the idle timeout that cuts a stalled body.
func describeClientError(err error, idle time.Duration) string {
	var netErr net.Error
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the client closed the connection before the whole body (Content-Length) arrived"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "the client stopped sending the request body (nothing for " + idle.String() + ", idle timeout)"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the client"
	}
	return rootMessage(err)
}
