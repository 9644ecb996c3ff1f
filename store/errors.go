package store

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ErrIncomplete marks a window some of whose objects could not be read: the
// rows seen are a partial view and must not be evaluated as if complete.
var ErrIncomplete = errors.New("window incomplete: some objects could not be read")

// permanentError wraps a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// IsPermanent reports whether err is a failure that retrying cannot fix:
// wrong or missing credentials, access denied, a bucket that does not exist,
// a malformed URI. Throttling, 5xx responses, timeouts and I/O errors are not
// permanent. Activities map a permanent error to a non-retryable
// ApplicationError.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var p *permanentError
	if errors.As(err, &p) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return permanentCodes[api.ErrorCode()]
	}
	return false
}

// permanentCodes are S3 error codes that no retry will change.
var permanentCodes = map[string]bool{
	"AccessDenied":                 true,
	"AllAccessDisabled":            true,
	"InvalidAccessKeyId":           true,
	"SignatureDoesNotMatch":        true,
	"ExpiredToken":                 true,
	"InvalidToken":                 true,
	"TokenRefreshRequired":         true,
	"AuthorizationHeaderMalformed": true,
	"NoSuchBucket":                 true,
	"InvalidBucketName":            true,
	"PermanentRedirect":            true,
	"AccountProblem":               true,
}

// permanentf builds a permanent error.
func permanentf(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// classify turns an S3 error into ours: missing keys into ErrNotFound, failed
// preconditions into ErrConflict, credentials and bucket problems into
// permanent errors; everything else is returned as is (retryable).
func classify(op, uri string, err error) error {
	if err == nil {
		return nil
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return fmt.Errorf("%s %s: %w", op, uri, ErrNotFound)
		case "PreconditionFailed", "ConditionalRequestConflict":
			return fmt.Errorf("%s %s: %w", op, uri, ErrConflict)
		}
		if permanentCodes[api.ErrorCode()] {
			return &permanentError{fmt.Errorf("%s %s: %w (check the credentials, the bucket name and storage.s3 in the config)", op, uri, err)}
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			return fmt.Errorf("%s %s: %w", op, uri, ErrNotFound)
		case http.StatusPreconditionFailed:
			return fmt.Errorf("%s %s: %w", op, uri, ErrConflict)
		case http.StatusUnauthorized, http.StatusForbidden:
			return &permanentError{fmt.Errorf("%s %s: %w (check the credentials and storage.s3 in the config)", op, uri, err)}
		}
	}
	return fmt.Errorf("%s %s: %w", op, uri, err)
}
