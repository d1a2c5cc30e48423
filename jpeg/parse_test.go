package jpeg

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// infoSummary is the part of Info the table test compares.
type infoSummary struct {
	Size, Subsampling, Process string
	Color                      ColorSpace
	Arithmetic                 bool
	Scans, Restart, Adobe      int
	JFIF                       bool
	LumaQ                      int
}

func summarize(in *Info) infoSummary {
	return infoSummary{
		Size:        fmt.Sprintf("%dx%d", in.Width, in.Height),
		Subsampling: in.Subsampling(), Process: in.Process.String(), Color: in.ColorSpace,
		Arithmetic: in.Arithmetic, Scans: in.Scans, Restart: in.RestartInterval, Adobe: in.AdobeTransform,
		JFIF: in.JFIF, LumaQ: EstimateQuality(in.LumaTable(), Luma).Quality,
	}
}

// TestParseGoCorpus: the expected structure was checked against `djpeg -verbose -verbose`.
func TestParseGoCorpus(t *testing.T) {
	for _, tc := range []struct {
		file string
		want infoSummary
	}{
		{"video-001.jpeg", infoSummary{"150x103", "4:4:4", "baseline", ColorYCbCr, false, 1, 0, -1, true, 100}},
		{"video-001.progressive.jpeg", infoSummary{"150x103", "4:4:4", "progressive", ColorYCbCr, false, 10, 0, -1, true, 100}},
		{"video-001.q50.444.jpeg", infoSummary{"150x103", "4:4:4", "baseline", ColorYCbCr, false, 1, 0, -1, true, 50}},
		{"video-001.q50.422.jpeg", infoSummary{"150x103", "4:2:2", "baseline", ColorYCbCr, false, 1, 0, -1, true, 50}},
		{"video-001.q50.440.jpeg", infoSummary{"150x103", "4:4:0", "baseline", ColorYCbCr, false, 1, 0, -1, true, 50}},
		{"video-001.q50.411.jpeg", infoSummary{"150x103", "4:1:1", "baseline", ColorYCbCr, false, 1, 0, -1, true, 50}},
		{"video-001.q50.410.jpeg", infoSummary{"150x103", "other", "baseline", ColorYCbCr, false, 1, 0, -1, true, 50}},
		{"video-001.restart2.jpeg", infoSummary{"150x103", "4:2:0", "baseline", ColorYCbCr, false, 1, 20, -1, true, 75}},
		{"video-001.rgb.jpeg", infoSummary{"150x103", "4:2:0", "baseline", ColorRGB, false, 1, 0, 0, false, 75}},
		{"video-001.cmyk.jpeg", infoSummary{"150x103", "4:4:4", "baseline", ColorCMYK, false, 1, 0, 0, true, 92}},
		{"video-005.gray.jpeg", infoSummary{"150x103", "gray", "baseline", ColorGray, false, 1, 0, -1, true, 92}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in, err := Parse(stdlibTestdata(t, tc.file), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summarize(in)); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMetadataRoundTrip writes EXIF, a multi-chunk ICC profile and checks Parse reads them back.
func TestMetadataRoundTrip(t *testing.T) {
	icc := make([]byte, 2*maxICCChunk+1000) // three APP2 chunks
	rand.New(rand.NewSource(1)).Read(icc)
	exif := tiffWithOrientation(3)
	src := crop(stdlibPNG(t, "video-001.png"), 40, 30)
	for _, tc := range []struct {
		name string
		md   Metadata
	}{
		{"none", Metadata{}},
		{"exif", Metadata{EXIF: exif}},
		{"icc-3-chunks", Metadata{ICC: icc}},
		{"icc-small", Metadata{ICC: icc[:500]}},
		{"both", Metadata{EXIF: exif, ICC: icc}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := EncodeJPEG(src, EncodeOptions{Quality: 80, Metadata: tc.md})
			if err != nil {
				t.Fatal(err)
			}
			in, err := Parse(data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			got := Metadata{EXIF: in.EXIF, ICC: in.ICC}
			if diff := cmp.Diff(tc.md, got); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			if !in.JFIF {
				t.Error("JFIF segment lost")
			}
			// djpeg must still read it: the segments are well formed.
			if _, err := decodePNM(runTool(t, data, "djpeg", "-pnm")); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestParseSegments(t *testing.T) {
	base, err := EncodeJPEG(crop(stdlibPNG(t, "video-001.png"), 16, 16), EncodeOptions{Quality: 60})
	if err != nil {
		t.Fatal(err)
	}
	seg := func(marker byte, payload string) []byte {
		var b bytes.Buffer
		writeSegment(&b, marker, []byte(payload), nil)
		return b.Bytes()
	}
	insert := func(segs ...[]byte) []byte {
		out := append([]byte(nil), base[:2]...)
		for _, s := range segs {
			out = append(out, s...)
		}
		return append(out, base[2:]...)
	}
	t.Run("xmp-and-comments", func(t *testing.T) {
		in, err := Parse(insert(seg(mAPP1, xmpHeader+"<x:xmpmeta/>"), seg(mCOM, "hello"), seg(mCOM, "world")), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if string(in.XMP) != "<x:xmpmeta/>" || !cmp.Equal(in.Comments, []string{"hello", "world"}) {
			t.Errorf("XMP %q, comments %q", in.XMP, in.Comments)
		}
	})
	t.Run("fill-bytes-and-trailing-data", func(t *testing.T) {
		d := append([]byte{0xff, mSOI, 0xff, 0xff}, base[2:]...) // fill bytes before a marker
		d = append(d, "trailer"...)
		in, err := Parse(d, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if in.TrailingBytes != 7 {
			t.Errorf("TrailingBytes = %d, want 7", in.TrailingBytes)
		}
	})
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"icc-missing-chunk", insert(seg(mAPP2, iccHeader+"\x01\x02abc")), ErrCorrupt},
		{"icc-bad-sequence", insert(seg(mAPP2, iccHeader+"\x03\x02abc")), ErrCorrupt},
		{"icc-too-short", insert(seg(mAPP2, iccHeader)), ErrCorrupt},
		{"second-soi", insert([]byte{0xff, mSOI}), ErrCorrupt},
		{"dri-wrong-length", insert(seg(mDRI, "\x00\x01\x02")), ErrCorrupt},
		{"dqt-bad-id", insert(seg(mDQT, "\x05"+string(make([]byte, 64)))), ErrCorrupt},
		{"dqt-zero-entry", insert(seg(mDQT, "\x00"+string(make([]byte, 64)))), ErrCorrupt},
		{"dqt-short", insert(seg(mDQT, "\x10\x01")), ErrCorrupt},
		{"segment-length-1", insert([]byte{0xff, mCOM, 0x00, 0x01}), ErrCorrupt},
		{"dnl", insert(seg(mDNL, "\x00\x10")), ErrUnsupported},
		{"dht-short", insert(seg(mDHT, "\x00\x01")), ErrCorrupt},
		{"dht-bad-class", insert(seg(mDHT, "\x20"+string(make([]byte, 16)))), ErrCorrupt},
		{"dht-counts-overrun", insert(seg(mDHT, "\x00\x05"+string(make([]byte, 15))+"ab")), ErrCorrupt},
		{"jpeg-extension", insert(seg(0xf3, "x")), ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.data, Limits{}); !errors.Is(err, tc.want) {
				t.Errorf("Parse error = %v, want kind %v", err, tc.want)
			}
		})
	}
}

// TestParseNeverPanicsOnTruncation cuts a progressive file at every byte: each prefix is either a
// valid file or a typed error.
func TestParseNeverPanicsOnTruncation(t *testing.T) {
	good := stdlibTestdata(t, "video-001.progressive.jpeg")
	for n := 0; n < len(good); n++ {
		_, err := Parse(good[:n], Limits{})
		if err == nil || Reason(err) == "" {
			t.Fatalf("prefix of %d bytes: error %v", n, err)
		}
	}
}
