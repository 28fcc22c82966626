package printout

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/talon-mfc/talon/internal/testenv"
	"github.com/talon-mfc/talon/queue"
)

// decodeQR reads a QR code from an image with ZXing (a real decoder).
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("no QR code found: %v", err)
	}
	return res.GetText()
}

func talon(t *testing.T) (Talon, *queue.Keyring) {
	keys, err := queue.NewKeyring("k1", bytes.Repeat([]byte{9}, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	token := keys.Sign(queue.Talon{Booking: 42, Office: "brn-center", Start: 1795500000})
	return Talon{Number: "ПЗ-004", Office: "МФЦ Барнаул, Центральный", Address: "пр-т Ленина, 1", Service: "Паспорт гражданина РФ",
		When: "24.11.2026 10:00", QR: token}, keys
}

// TestPNGTalonScans: the QR code of the PNG talon decodes to the token that
// check-in verifies.
func TestPNGTalonScans(t *testing.T) {
	tl, keys := talon(t)
	b, err := PNG(tl)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	got := decodeQR(t, img)
	if got != tl.QR {
		t.Fatalf("decoded %q, want %q", got, tl.QR)
	}
	if v, err := keys.Verify(got); err != nil || v.Booking != 42 {
		t.Fatalf("check-in would refuse it: %v", err)
	}
}

// TestPDFTalonScans renders both PDF formats to images with poppler's
// pdftoppm and decodes the QR code from them; pdftotext finds the Cyrillic
// text.
func TestPDFTalonScans(t *testing.T) {
	testenv.Need(t, "pdftoppm", "rendering the PDF talon for the QR decoder")
	tl, _ := talon(t)
	for _, format := range []string{"a4", "receipt"} {
		b, err := PDF(tl, format)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		pdf := filepath.Join(dir, "talon.pdf")
		os.WriteFile(pdf, b, 0o600)
		if out, err := exec.Command("pdftoppm", "-r", "150", "-png", "-singlefile", pdf, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
			t.Fatalf("%s: pdftoppm: %v %s", format, err, out)
		}
		f, err := os.Open(filepath.Join(dir, "page.png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeQR(t, img); got != tl.QR {
			t.Fatalf("%s: decoded %q", format, got)
		}
		text, err := exec.Command("pdftotext", pdf, "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"ПЗ-004", "Паспорт гражданина РФ", "24.11.2026 10:00", "МФЦ Барнаул"} {
			if !strings.Contains(string(text), want) {
				t.Errorf("%s: the PDF text lacks %q:\n%s", format, want, text)
			}
		}
	}
	if _, err := PDF(tl, "letter"); err == nil {
		t.Fatal("an unknown format was accepted")
	}
}

// TestReceiptFitsItsText: the receipt grows with its content; with the
// longest address of the demo region every word pdftotext finds lies on the
// page, the last line of the arrival note included.
func TestReceiptFitsItsText(t *testing.T) {
	testenv.Need(t, "pdftotext", "reading the PDF talon's text and its boxes")
	tl, _ := talon(t)
	tl.Office = "Демонстрационный офис (круглосуточно)"
	tl.Address = "г. Барнаул, Павловский тракт, 58 — учебный офис, открыт всегда, чтобы демо работало в любой час"
	tl.Service = "Материнский (семейный) капитал: выдача сертификата и распоряжение средствами"
	b, err := PDF(tl, "receipt")
	if err != nil {
		t.Fatal(err)
	}
	pdf := filepath.Join(t.TempDir(), "receipt.pdf")
	os.WriteFile(pdf, b, 0o600)
	out, err := exec.Command("pdftotext", "-bbox", pdf, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	num := func(s, attr string) float64 {
		m := regexp.MustCompile(attr + `="([0-9.]+)"`).FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("no %s in %s", attr, s)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	page := regexp.MustCompile(`<page [^>]*>`).FindString(string(out))
	width, height := num(page, "width"), num(page, "height")
	words := regexp.MustCompile(`<word [^>]*>[^<]*</word>`).FindAllString(string(out), -1)
	if len(words) < 30 {
		t.Fatalf("%d words on the receipt", len(words))
	}
	for _, w := range words {
		if num(w, "yMax") > height || num(w, "xMax") > width || num(w, "yMin") < 0 {
			t.Errorf("off the %.0f×%.0f pt page: %s", width, height, w)
		}
	}
	if !strings.Contains(string(out), "приёма.") {
		t.Error("the arrival note's last word is missing")
	}
}
