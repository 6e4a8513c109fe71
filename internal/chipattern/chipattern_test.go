package chipattern

import "testing"

func TestClosingBrace(t *testing.T) {
	for _, tc := range []struct {
		p    string
		open int
		want int
	}{
		{"/{id}", 1, 4},
		{"/{id:[0-9]{4}}/x", 1, 13},
		{"/{a}/{b:x{1,2}y}", 5, 15},
		{"/{id:[0-9]{4}", 1, -1},
		{"/{", 1, -1},
		{"{}", 0, 1},
	} {
		if got := ClosingBrace(tc.p, tc.open); got != tc.want {
			t.Errorf("ClosingBrace(%q, %d) = %d, want %d", tc.p, tc.open, got, tc.want)
		}
	}
}
