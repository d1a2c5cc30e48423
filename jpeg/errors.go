package jpeg

import "fmt"

// Kind classifies why a file could not be parsed, decoded or encoded. Package enhance maps each
// kind to the reason its records carry (report.Reason), of the same name.
type Kind int

const (
	// KindCorrupt: the bytes violate the format (bad lengths, impossible values, damaged entropy data).
	KindCorrupt Kind = iota + 1
	// KindTruncated: the file ends before the image does.
	KindTruncated
	// KindUnsupported: a valid JPEG this package does not decode (lossless, hierarchical, 12-bit, ...).
	KindUnsupported
	// KindTooLarge: the frame is larger than the configured pixel limit; nothing was decoded.
	KindTooLarge
	// KindNotJPEG: the data does not start with a JPEG SOI marker.
	KindNotJPEG
	// KindEncode: the encoder failed.
	KindEncode
)

func (k Kind) String() string {
	switch k {
	case KindCorrupt:
		return "corrupt"
	case KindTruncated:
		return "truncated"
	case KindUnsupported:
		return "unsupported"
	case KindTooLarge:
		return "too_large"
	case KindNotJPEG:
		return "not_jpeg"
	case KindEncode:
		return "encode_failed"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is the error returned for every failure of this package. Offset is the byte offset in the
// input where the problem was found, or -1.
type Error struct {
	Kind   Kind
	Offset int64
	Msg    string
}

func (e *Error) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("jpeg: %s: %s (at byte %d)", e.Kind, e.Msg, e.Offset)
	}
	return fmt.Sprintf("jpeg: %s: %s", e.Kind, e.Msg)
}

// Is makes errors.Is(err, ErrCorrupt) and friends match any *Error of that kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Msg == "" && t.Kind == e.Kind
}

// Sentinels for errors.Is; each matches every *Error of its kind.
var (
	ErrCorrupt     error = &Error{Kind: KindCorrupt, Offset: -1}
	ErrTruncated   error = &Error{Kind: KindTruncated, Offset: -1}
	ErrUnsupported error = &Error{Kind: KindUnsupported, Offset: -1}
	ErrTooLarge    error = &Error{Kind: KindTooLarge, Offset: -1}
	ErrNotJPEG     error = &Error{Kind: KindNotJPEG, Offset: -1}
	ErrEncode      error = &Error{Kind: KindEncode, Offset: -1}
)

func errf(k Kind, off int, format string, args ...any) *Error {
	return &Error{Kind: k, Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
}
