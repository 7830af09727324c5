package boltutil

import "errors"

// ErrLocked is returned by Open when another process holds the file's lock
// past the timeout. Callers wrap it with their own sentinel (tips.ErrStoreInUse,
// mailbox.ErrInUse) or hint.
var ErrLocked = errors.New("boltutil: file locked by another process")
