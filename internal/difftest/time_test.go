package difftest

import "time"

func timeUTC(secs int64) time.Time { return time.Unix(secs, 0).UTC() }
