package oip

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"unsafe"

	"jpegrestore/inference"
	"jpegrestore/oip/oippb"
)

// The protocol's names for what jpegrestore's models take and give.
const (
	// DataType is the type of every tensor of the model contract.
	DataType = "FP32"
	// Platform says how the served models run (the specification's name for ONNX models).
	Platform = "onnx_onnxv1"
	// ParamSHA256 is the model parameter (in ModelMetadataResponse.parameters and in every
	// ModelInferResponse.parameters) holding the sha256 of the model file, as its manifest says.
	ParamSHA256 = "sha256"
	// ParamDevice is the model parameter saying where the server runs the model ("cpu", "cuda:0").
	ParamDevice = "device"
)

// tensors returns the model's inputs and outputs as the protocol describes them: image and
// restored are [N,3,H,W], qtable (for conditioned models) [N,128], all FP32.
func tensors(man *inference.Manifest) (inputs, outputs []*oippb.ModelMetadataResponse_TensorMetadata) {
	image := []int64{-1, 3, -1, -1}
	inputs = append(inputs, &oippb.ModelMetadataResponse_TensorMetadata{Name: man.Inputs.Image, Datatype: DataType, Shape: image})
	if man.Conditioned() {
		inputs = append(inputs, &oippb.ModelMetadataResponse_TensorMetadata{Name: man.Inputs.QTable, Datatype: DataType, Shape: []int64{-1, inference.QTableLen}})
	}
	outputs = append(outputs, &oippb.ModelMetadataResponse_TensorMetadata{Name: man.Output, Datatype: DataType, Shape: image})
	return inputs, outputs
}

// Metadata is the ModelMetadata answer for a model running on device.
func Metadata(man *inference.Manifest, device string) *oippb.ModelMetadataResponse {
	in, out := tensors(man)
	return &oippb.ModelMetadataResponse{Name: man.Name, Versions: []string{man.Version}, Platform: Platform,
		Inputs: in, Outputs: out, Parameters: map[string]*oippb.InferParameter{
			ParamSHA256: stringParam(man.SHA256), ParamDevice: stringParam(device)}}
}

func stringParam(s string) *oippb.InferParameter {
	return &oippb.InferParameter{ParameterChoice: &oippb.InferParameter_StringParam{StringParam: s}}
}

// CheckContract says whether a server's model metadata is the model of man: the same name, a
// version man names, the same inputs and outputs (names, data types, shapes) and the same sha256.
// The error says what differs, in words for the user.
func CheckContract(md *oippb.ModelMetadataResponse, man *inference.Manifest) error {
	sum := md.GetParameters()[ParamSHA256].GetStringParam()
	theirs := fmt.Sprintf("%s version %s (sha256 %s)", md.GetName(), md.GetVersions(), short(sum))
	ours := fmt.Sprintf("%s version %s (sha256 %s)", man.Name, man.Version, short(man.SHA256))
	if md.GetName() != man.Name || !slices.Contains(md.GetVersions(), man.Version) {
		return fmt.Errorf("it serves %s, and this job restores with %s", theirs, ours)
	}
	if sum == "" {
		return fmt.Errorf("it does not say the sha256 of its %s model (parameter %q), so the outputs could not name the model that made them; serve it with jpegrestore serve", man.Name, ParamSHA256)
	}
	if sum != man.SHA256 {
		return fmt.Errorf("it serves %s, and this job restores with %s: the same name, another model file", theirs, ours)
	}
	in, out := tensors(man)
	if err := sameTensors("inputs", md.GetInputs(), in); err != nil {
		return err
	}
	return sameTensors("outputs", md.GetOutputs(), out)
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12] + "…"
	}
	if sum == "" {
		return "not given"
	}
	return sum
}

func sameTensors(what string, got, want []*oippb.ModelMetadataResponse_TensorMetadata) error {
	describe := func(ts []*oippb.ModelMetadataResponse_TensorMetadata) string {
		s := ""
		for i, t := range ts {
			if i > 0 {
				s += ", "
			}
			s += fmt.Sprintf("%s %s %v", t.GetName(), t.GetDatatype(), t.GetShape())
		}
		return "[" + s + "]"
	}
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		same = got[i].GetName() == want[i].GetName() && got[i].GetDatatype() == want[i].GetDatatype() && slices.Equal(got[i].GetShape(), want[i].GetShape())
	}
	if !same {
		return fmt.Errorf("its model's %s are %s, the model contract's are %s", what, describe(got), describe(want))
	}
	return nil
}

// asBytes returns v as little-endian FP32, the protocol's raw layout: v's own memory on a
// little-endian machine (no copy: a tile is megabytes), a copy elsewhere. The caller must not
// change v while the bytes are in use.
func asBytes(v []float32) []byte {
	if littleEndian && len(v) > 0 {
		return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
	}
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// asFloats returns the FP32 values of b (little-endian, len(b) a multiple of 4): b's own memory
// when the machine is little-endian and b is aligned for float32, a copy otherwise.
func asFloats(b []byte) []float32 {
	n := len(b) / 4
	if n == 0 {
		return []float32{}
	}
	if littleEndian && uintptr(unsafe.Pointer(&b[0]))%unsafe.Alignof(float32(0)) == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// littleEndian is whether this machine stores a float32 as the protocol's raw layout does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
