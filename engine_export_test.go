package webhook

// QueuedEmits reports how many Emit calls wait for the group commit of d.
func QueuedEmits(d *Dispatcher) int { return len(d.committer.reqs) }
