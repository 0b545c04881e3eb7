package alertgate

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP edge maps each to one status in one table.
const (
	EINVALID      = "invalid"      // bad input: 400
	EUNAUTHORIZED = "unauthorized" // bad or missing credentials: 401
	EFORBIDDEN    = "forbidden"    // valid credentials without the right: 403
	ETOOLARGE     = "too_large"    // body over the limit: 413
	EMEDIATYPE    = "media_type"   // a body of a type the endpoint does not take: 415
	ENOTFOUND     = "not_found"    // 404
	ECONFLICT     = "conflict"     // what the request needs is busy with another one: 409
	EUNAVAILABLE  = "unavailable"  // JetStream cannot take it now: 503
	EINTERNAL     = "internal"     // a bug: 500
)

// Error is an error with a code and a message safe to show to the caller.
type Error struct {
	Code    string
	Message string
	// Err is the cause, logged but never shown to the caller.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with code and message whose cause is err.
func WrapError(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	}
	return "internal error"
}
