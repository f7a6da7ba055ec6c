package inspect

// SetScanBudget sets how many seqs one List walks when the store tests
// its filter event by event, so that tests need not store thousands.
func SetScanBudget(in *Inspector, seqs int64) { in.scan = seqs }
