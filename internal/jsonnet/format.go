package jsonnet

import "strings"

// formatMaxWidth returns the largest field width or precision written in a
// jsonnet format string, or -1 when one is taken from the values ("*").
func formatMaxWidth(s string) int {
	maxW := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		i++
		if i < len(s) && s[i] == '(' {
			for i < len(s) && s[i] != ')' {
				i++
			}
			i++
		}
		for i < len(s) && strings.IndexByte("#0- +", s[i]) >= 0 {
			i++
		}
		for part := 0; part < 2; part++ {
			if i < len(s) && s[i] == '*' {
				return -1
			}
			n := 0
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				if n < 1<<30 {
					n = n*10 + int(s[i]-'0')
				}
				i++
			}
			maxW = max(maxW, n)
			if part == 0 && i < len(s) && s[i] == '.' {
				i++
				continue
			}
			break
		}
	}
	return maxW
}
