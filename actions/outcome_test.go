package actions

import (
	"reflect"
	"strings"
	"testing"
)

func TestArtefactLinesShortenLongLists(t *testing.T) {
	ids := make([]string, 12)
	for i := range ids {
		ids[i] = string(rune('a' + i))
	}
	o := Outcome{Artefacts: map[string]string{"tasks": strings.Join(ids, ","), "enqueued": "12", "path": "/b/x.dump"}}
	want := []string{
		"enqueued: 12",
		"path: /b/x.dump",
		"tasks: a,b,c,d,e,f,g,h,i,j … (2 more, 12 in all, in the journal)",
	}
	if got := o.ArtefactLines(); !reflect.DeepEqual(got, want) {
		t.Errorf("ArtefactLines() = %q, want %q", got, want)
	}
	o.Artefacts = map[string]string{"tasks": strings.Join(ids[:maxShownItems], ",")}
	if got := o.ArtefactLines(); got[0] != "tasks: "+strings.Join(ids[:maxShownItems], ",") {
		t.Errorf("a list of %d was shortened: %q", maxShownItems, got[0])
	}
	if got := (Outcome{}).ArtefactLines(); len(got) != 0 {
		t.Errorf("no artefacts gave %q", got)
	}
}
