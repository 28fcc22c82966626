// Package printout renders the talon an applicant takes away: a PDF (an A4
// page to print at home, or an 80 mm kiosk receipt) and a PNG for a phone's
// screen, each with the QR code of the booking's signed token. It knows
// only what a talon shows (Talon); it does not know bookings, the state or
// HTTP.
package printout

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Talon is what a printed talon shows.
type Talon struct {
	Number  string // ПЗ-004
	Office  string // the office's name
	Address string
	Service string
	When    string // the visit's local date and time, "24.11.2026 10:00"
	QR      string // the signed token the kiosk checks in
}

// QRImage is the talon's QR code, size pixels square, with a quiet zone.
func QRImage(token string, size int) (image.Image, error) {
	code, err := qr.Encode(token, qr.M, qr.Auto)
	if err != nil {
		return nil, err
	}
	modules := code.Bounds().Dx()
	px := size / (modules + 8) // a quiet zone of four modules on each side
	scaled, err := barcode.Scale(code, modules*px, modules*px)
	if err != nil {
		return nil, err
	}
	out := image.NewGray(image.Rect(0, 0, size, size))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	off := (size - modules*px) / 2
	draw.Draw(out, scaled.Bounds().Add(image.Pt(off, off)), scaled, image.Point{}, draw.Src)
	return out, nil
}

func pngBytes(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	err := png.Encode(&buf, img)
	return buf.Bytes(), err
}

// PDF renders the talon: "a4" (a page to print at home) or "receipt" (an
// 80 mm roll of a kiosk printer).
func PDF(t Talon, format string) ([]byte, error) {
	qrPNG, err := QRImage(t.QR, 600)
	if err != nil {
		return nil, err
	}
	qrBytes, err := pngBytes(qrPNG)
	if err != nil {
		return nil, err
	}
	switch format {
	case "receipt":
		// A roll has no page height: lay the talon out on a long strip,
		// then again on one exactly as long as it came out.
		_, end := layout(t, qrBytes, 80, 4, 56, fpdf.NewCustom(&fpdf.InitType{UnitStr: "mm", Size: fpdf.SizeType{Wd: 80, Ht: 1000}}))
		pdf, _ := layout(t, qrBytes, 80, 4, 56, fpdf.NewCustom(&fpdf.InitType{UnitStr: "mm", Size: fpdf.SizeType{Wd: 80, Ht: end + 4}}))
		return output(pdf)
	case "a4", "":
		pdf, _ := layout(t, qrBytes, 210, 25, 80, fpdf.New("P", "mm", "A4", ""))
		return output(pdf)
	default:
		return nil, fmt.Errorf("format %q: a4 or receipt", format)
	}
}

func output(pdf *fpdf.Fpdf) ([]byte, error) {
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Arrival is what a talon tells its holder about coming.
const Arrival = "Приходите за 5–10 минут до назначенного времени. Отсканируйте QR-код на терминале " +
	"не раньше чем за 30 минут и не позже чем через 15 минут после начала приёма."

// layout draws the talon on a page w mm wide and returns the document and
// where the content ends (mm from the top).
func layout(t Talon, qrBytes []byte, w, margin, qrSize float64, pdf *fpdf.Fpdf) (*fpdf.Fpdf, float64) {
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	pdf.SetTitle("Талон "+t.Number, true)
	pdf.AddPage()
	text := w - 2*margin
	line := func(style string, size, h float64, s string) {
		pdf.SetFont("go", style, size)
		pdf.MultiCell(text, h, s, "", "C", false)
	}
	line("B", 14, 7, "Электронная запись в МФЦ")
	line("", 11, 6, t.Office)
	if t.Address != "" {
		line("", 9, 5, t.Address)
	}
	pdf.Ln(3)
	line("B", 36, 16, t.Number)
	line("", 12, 6, t.Service)
	line("B", 16, 8, t.When)
	pdf.Ln(2)
	pdf.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(qrBytes))
	pdf.ImageOptions("qr", (w-qrSize)/2, pdf.GetY(), qrSize, qrSize, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	pdf.SetY(pdf.GetY() + qrSize + 2)
	line("", 9, 4.5, Arrival)
	return pdf, pdf.GetY()
}

// PNG renders the talon as an image (for a phone screen): the office and
// its address, the number, the service, the time, the QR code and how to
// arrive, each line wrapped to the image's width.
func PNG(t Talon) ([]byte, error) {
	const width, pad = 720, 24
	qrImg, err := QRImage(t.QR, 560)
	if err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, width, 2400))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	y := 20
	text := func(s string, size float64, bold bool) error {
		face, err := fontFace(size, bold)
		if err != nil {
			return err
		}
		d := &font.Drawer{Dst: img, Src: image.NewUniform(color.Black), Face: face}
		for _, l := range wrap(d, s, width-2*pad) {
			y += int(size * 1.25) // down to this line's baseline
			d.Dot = fixed.P(max(pad, (width-d.MeasureString(l).Round())/2), y)
			d.DrawString(l)
		}
		y += 12
		return nil
	}
	for _, l := range []struct {
		text string
		size float64
		bold bool
	}{{"Электронная запись в МФЦ", 30, true}, {t.Office, 26, false}, {t.Address, 20, false}, {t.Number, 72, true},
		{t.Service, 26, false}, {t.When, 34, true}} {
		if err := text(l.text, l.size, l.bold); err != nil {
			return nil, err
		}
	}
	draw.Draw(img, qrImg.Bounds().Add(image.Pt((width-560)/2, y)), qrImg, image.Point{}, draw.Src)
	y += 560
	if err := text(Arrival, 20, false); err != nil {
		return nil, err
	}
	return pngBytes(img.SubImage(image.Rect(0, 0, width, min(y+20, img.Bounds().Dy()))))
}

// wrap breaks s into lines no wider than width as d measures them.
func wrap(d *font.Drawer, s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if next := strings.TrimSpace(line + " " + w); line == "" || d.MeasureString(next).Round() <= width {
			line = next
			continue
		}
		lines = append(lines, line)
		line = w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

func fontFace(size float64, bold bool) (font.Face, error) {
	ttf := goregular.TTF
	if bold {
		ttf = gobold.TTF
	}
	f, err := opentype.Parse(ttf)
	if err != nil {
		return nil, err
	}
	return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
}
