package injeval

import "github.com/palisade-sec/palisade/internal/evalsplit"

// Splits of the evaluation data: tuning or validation by sha256 of the
// payload value (see internal/evalsplit, which holds the rule for every
// evaluation). Sources that are not in the development set at all (the
// CRS regression suite shipped in the coraza-coreruleset module) are held
// out whole.
const (
	SplitTune    = evalsplit.SplitTune
	SplitValid   = evalsplit.SplitValid
	SplitHeldOut = evalsplit.SplitHeldOut
)

// ValidationPercent is the share of each development source kept for
// validation.
const ValidationPercent = evalsplit.ValidationPercent

// SplitOf returns the part of a development-set payload value.
func SplitOf(value string) string { return evalsplit.SplitOf(value) }
