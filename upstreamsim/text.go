package upstreamsim

import "strings"

// words are the simulator's vocabulary: one word is one output token.
var words = strings.Fields(`the a budget token model answer cost team report
	cache prompt stream usage provider gateway ledger request price reason
	plan task spend limit week month share peer saving tip shorter context
	window summary draft review code test fix build deploy metric alert
	and of to in for with on by from as is are was can will should may`)

var thinkingWords = strings.Fields(`let me think first consider the user asks
	about this so perhaps we need check whether then compare options maybe
	better answer carefully step next`)

// piece returns output token i of an answer seeded by h: a word, with a
// leading space after the first.
func piece(vocab []string, h uint64, i int64) string {
	w := vocab[(h+uint64(i)*2654435761)%uint64(len(vocab))]
	if i == 0 {
		return w
	}
	return " " + w
}

// answerText is the whole text of n tokens, as a non-streamed answer carries it.
func answerText(vocab []string, h uint64, n int64) string {
	var sb strings.Builder
	for i := range n {
		sb.WriteString(piece(vocab, h, i))
	}
	return sb.String()
}
