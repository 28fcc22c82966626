package queue

import "fmt"

// Code is a stable, machine-readable error code. The API maps it to an HTTP
// status; integrators match on it, so codes are never renamed.
type Code string

const (
	CodeInvalidRequest       Code = "invalid_request"
	CodeNotFound             Code = "not_found"
	CodeUnknownOffice        Code = "unknown_office"
	CodeUnknownService       Code = "unknown_service"
	CodeUnknownWindow        Code = "unknown_window"
	CodeSlotTaken            Code = "slot_taken"
	CodeOutsideHorizon       Code = "outside_horizon"
	CodeOfficeClosed         Code = "office_closed"
	CodeNotBookable          Code = "not_bookable"
	CodeLimitExceeded        Code = "limit_exceeded"
	CodeHoldExpired          Code = "hold_expired"
	CodeRescheduleLimit      Code = "reschedule_limit"
	CodeNotActive            Code = "not_active"
	CodeNotConfirmed         Code = "not_confirmed"
	CodeInvalidQR            Code = "invalid_qr"
	CodeWrongOffice          Code = "wrong_office"
	CodeTooEarly             Code = "too_early"
	CodeTooLate              Code = "too_late"
	CodeAlreadyCheckedIn     Code = "already_checked_in"
	CodeCancelled            Code = "cancelled"
	CodeNoCurrentTicket      Code = "no_current_ticket"
	CodeWindowBusy           Code = "window_busy"
	CodeWindowNotOpen        Code = "window_not_open"
	CodeInvalidConfig        Code = "invalid_config"
	CodeUnknownCommand       Code = "unknown_command"
	CodeFieldTooLong         Code = "field_too_long"         // a field over its limit (queue's Max… constants)
	CodeInvalidCommand       Code = "invalid_command"        // bytes that are no command this version can apply
	CodeBookingsAffected     Code = "bookings_affected"      // a region change would take window time from bookings (SetRegion.Force)
	CodeInvalidPhone         Code = "invalid_phone"          // not a valid phone number (the API parses it into E.164)
	CodeIdempotencyKeyReused Code = "idempotency_key_reused" // an idempotency key sent again with another request
	CodeClosingSoon          Code = "closing_soon"           // a walk-in would not be called before the office's last call (Error.NextOpen)
	CodeWindowSignedOut      Code = "window_signed_out"      // in an office run by signed-in operators, nobody is signed in to the window
	CodeNotYourWindow        Code = "not_your_window"        // an operator acting at a window another employee is signed in to
	CodeWindowTaken          Code = "window_taken"           // another operator is signed in to the window
)

// Error is a domain rejection. A rejected command changes nothing.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// NextOpen is, with closing_soon, when the office opens next: RFC 3339
	// in its own time zone.
	NextOpen string `json:"next_open,omitempty"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

func errf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Alternatives are the nearest free slots offered when the chosen one is
// taken (State.Alternatives).
type Alternatives struct {
	SameOffice   []Slot `json:"same_office"`
	OtherOffices []Slot `json:"other_offices"`
}
