package celery

import "testing"

func BenchmarkNewMessage(b *testing.B) {
	for b.Loop() {
		m, _ := NewMessage(recalculateTask(""), "celery")
		_, _ = m.Encode()
	}
}

func BenchmarkValidate(b *testing.B) {
	m, _ := NewMessage(recalculateTask(""), "celery")
	raw, _ := m.Encode()
	for b.Loop() {
		_ = Validate(raw)
	}
}
