#!/usr/bin/env python3
"""The Python side of scripts/bench_audio.sh (`make bench`), on the inputs of
modalities/audio/tools/bench_audio.cpp.

    bench_audio.py fbank-torchaudio BINS SECONDS REPS   torchaudio.compliance.kaldi.fbank (BEATs' call)
    bench_audio.py fbank-knf BINS SECONDS REPS          kaldi-native-fbank, the same options (it
                                                        refuses 128 bins on a 512-point FFT)
    bench_audio.py whisper MODEL_DIR REPS          transformers' WhisperEncoder with the model.bin's
                                                   weights (converted as in
                                                   tools/fixtures/audio/make_whisper_encoder_fixtures.py)

Prints "seconds=<median of REPS calls after one warm-up> out=<checksum> threads=<PyTorch's>";
$AUDIO_THREADS sets PyTorch's thread count.
"""
import os
import pathlib
import statistics
import sys
import time

import numpy as np
import torch


def chirp(n):
    i = np.arange(n, dtype=np.int64)
    t, span = i / 16000.0, n / 16000.0
    phase = 2 * np.pi * (200.0 * t + 1500.0 * t * t / span)
    return (0.5 * np.sin(phase) + 0.01 * ((i * 7919 % 1000) / 1000.0 - 0.5)).astype(np.float32)


def median_seconds(reps, f):
    f()
    times = []
    for _ in range(reps):
        a = time.perf_counter()
        f()
        times.append(time.perf_counter() - a)
    return statistics.median(times)


def main():
    mode = sys.argv[1]
    if os.environ.get("AUDIO_THREADS"):
        torch.set_num_threads(int(os.environ["AUDIO_THREADS"]))
    out = [0.0]
    if mode == "fbank-torchaudio":
        import torchaudio.compliance.kaldi as kaldi
        bins = int(sys.argv[2])
        x = torch.from_numpy(chirp(int(float(sys.argv[3]) * 16000)) * 32768.0).unsqueeze(0)

        def run():
            f = kaldi.fbank(x, num_mel_bins=bins, sample_frequency=16000, frame_length=25, frame_shift=10)
            f = (f - 15.41663) / (2 * 6.55582)
            out[0] = float(f[0, 0] + f[-1, -1])
        reps = int(sys.argv[4])
    elif mode == "fbank-knf":
        import kaldi_native_fbank as knf
        x = chirp(int(float(sys.argv[3]) * 16000)) * 32768.0
        opts = knf.FbankOptions()
        opts.frame_opts.dither = 0.0
        opts.frame_opts.samp_freq = 16000
        opts.mel_opts.num_bins = int(sys.argv[2])
        opts.mel_opts.debug_mel = False

        def run():
            fb = knf.OnlineFbank(opts)
            fb.accept_waveform(16000, x.tolist())
            fb.input_finished()
            f = np.stack([fb.get_frame(i) for i in range(fb.num_frames_ready)])
            f = (f - 15.41663) / (2 * 6.55582)
            out[0] = float(f[0, 0] + f[-1, -1])
        reps = int(sys.argv[4])
    elif mode == "whisper":
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "fixtures" / "audio"))
        from make_whisper_encoder_fixtures import hf_encoder, read_ct2
        _, _, variables = read_ct2(pathlib.Path(sys.argv[2]) / "model.bin")
        enc = hf_encoder(variables)
        mel = torch.sin(torch.arange(80 * 3000, dtype=torch.float32) * 0.001).reshape(1, 80, 3000)

        def run():
            with torch.no_grad():
                out[0] = float(enc(mel).last_hidden_state.double().sum())
        reps = int(sys.argv[3])
    else:
        sys.exit(__doc__)
    s = median_seconds(reps, run)
    print(f"seconds={s:.6f} out={out[0]:.6f} threads={torch.get_num_threads()}")


if __name__ == "__main__":
    main()
