package connlimit

// fdReserve is the number of file descriptors kept back from client
// connections for everything else: the database and its pool, the ledger
// spool and journal, logs, and outgoing webhook and store connections.
const fdReserve = 256

// FitFDs returns l with MaxConns (and MaxConnsPerClient) lowered, if need
// be, so that the connections fit well under nofile, the process's limit
// of open files. Each client connection may hold a second descriptor for
// its upstream call, and fdReserve (at most a quarter of nofile) is kept
// for the rest; lowered reports whether l changed. nofile 0 means unknown
// and leaves l as is.
func (l Limits) FitFDs(nofile uint64) (fit Limits, lowered bool) {
	if nofile == 0 {
		return l, false
	}
	reserve := min(uint64(fdReserve), nofile/4)
	most := max((nofile-reserve)/2, 1)
	if uint64(l.MaxConns) <= most {
		return l, false
	}
	l.MaxConns = int(most)
	l.MaxConnsPerClient = min(l.MaxConnsPerClient, l.MaxConns)
	return l, true
}
