package event

// Event time as RFC 3339 text, hand-written because time.Parse and
// time.Format cost several times more than the rest of decoding an event.

// ParseRFC3339 parses s as the ingest parses an event's ts text (see
// parseRFC3339): unix milliseconds, false when s is not strict RFC 3339.
// Readers that take times (the query service's from/to, the commands'
// --from/--to) use it, so every time a user writes means the same thing
// everywhere.
func ParseRFC3339(s string) (int64, bool) { return parseRFC3339([]byte(s)) }

// maxRFC3339TS is 9999-12-31T23:59:59.999Z, the last instant RFC 3339 text
// (a four-digit year) can express.
const maxRFC3339TS = 253402300799999

// parseRFC3339 parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" to
// unix milliseconds, truncating the fraction (any number of digits) to
// milliseconds. It is strict RFC 3339, whose section 5.6 lets the T and
// the Z be lower case: with those upper-cased, it accepts a subset of what
// time.Parse(time.RFC3339Nano, s) accepts (which also takes a one-digit
// hour, a ',' before the fraction and offsets of 24h or more) and gives the
// same instant.
func parseRFC3339(s []byte) (int64, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") ||
		s[4] != '-' || s[7] != '-' || s[10]|0x20 != 't' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	rest := s[19:]
	var ms int64
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			if n <= 3 {
				ms = ms*10 + int64(rest[n]-'0')
			}
			n++
		}
		if n == 1 {
			return 0, false
		}
		for k := n; k <= 3; k++ {
			ms *= 10
		}
		rest = rest[n:]
	}
	var offset int64 // seconds east of UTC
	switch {
	case len(rest) == 1 && rest[0]|0x20 == 'z':
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	secs := daysFromCivil(year, month, day)*86400 + hour*3600 + minute*60 + sec - offset
	return secs*1000 + ms, true
}

// digits parses a short run of ASCII digits.
func digits(s []byte) (int64, bool) {
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func daysIn(month, year int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days from 1970-01-01 to the given
// proleptic Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendRFC3339 appends ts (0 <= ts <= maxRFC3339TS) as
// "YYYY-MM-DDTHH:MM:SS[.mmm]Z", with the milliseconds only when not zero.
func appendRFC3339(dst []byte, ts int64) []byte {
	ms := ts % 1000
	secs := ts / 1000
	y, mo, d := civilFromDays(secs / 86400)
	sod := secs % 86400
	var b [24]byte
	put2 := func(i int, v int64) { b[i], b[i+1] = byte('0'+v/10), byte('0'+v%10) }
	put2(0, y/100)
	put2(2, y%100)
	b[4] = '-'
	put2(5, mo)
	b[7] = '-'
	put2(8, d)
	b[10] = 'T'
	put2(11, sod/3600)
	b[13] = ':'
	put2(14, sod/60%60)
	b[16] = ':'
	put2(17, sod%60)
	n := 19
	if ms != 0 {
		b[19] = '.'
		b[20] = byte('0' + ms/100)
		put2(21, ms%100)
		n = 23
	}
	b[n] = 'Z'
	return append(dst, b[:n+1]...)
}
