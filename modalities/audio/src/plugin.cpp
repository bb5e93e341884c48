// The audio modality plugin: registers Modality "audio", its prompts and its two encoders.
#include "xib/plugin.h"

#include "audio_modality.h"
#include "audio_prompts.h"
#include "encoders.h"

XIB_PLUGIN_INFO("0.1.0",
                "audio modality: WAV/FLAC/OGG/MP3/M4A, Kaldi fbank and Whisper log-mel, Whisper tiny.en and BEATs")

XIB_PLUGIN_INIT(reg) {
  reg.add<xib::Modality>("audio", &xib::audio::make_audio_modality,
                         "audio clips → segments → Whisper tiny.en or BEATs tokens → aligner; cue ' audio: '");
  reg.add<xib::ModalityPrompts>("audio", xib::prompts_factory(xib::audio::audio_prompts()),
                                "the audio cue and instruction templates (caption, qa)");
  reg.add<xib::Encoder>(
      "whisper_tiny_en",
      [](const xib::FactoryArgs& a) {
        auto o = xib::bind<xib::audio::EncoderOptions>(a.options);
        o.type = "whisper_tiny_en";
        return xib::audio::make_encoder(o);
      },
      "Whisper tiny.en encoder (CTranslate2 model.bin or transformers), [B, 1500, 384] per 30-s log-mel window");
  reg.add<xib::Encoder>(
      "beats",
      [](const xib::FactoryArgs& a) {
        auto o = xib::bind<xib::audio::EncoderOptions>(a.options);
        o.type = "beats";
        return xib::audio::make_encoder(o);
      },
      "BEATs iter3+ AS2M (upstream names), [B, 256, 768] per 512-frame fbank segment");
}
