// The image modality plugin: registers Modality "image" and its two encoders.
#include "xib/plugin.h"

#include "encoders.h"
#include "image_modality.h"
#include "image_prompts.h"

XIB_PLUGIN_INFO("0.1.0", "image modality: PNG/JPEG, PIL-exact processor, EfficientNet-Lite0 and EVA-CLIP ViT-g")

XIB_PLUGIN_INIT(reg) {
  reg.add<xib::Modality>("image", &xib::image::make_image_modality,
                         "images (PNG/JPEG) → EfficientNet-Lite0 or EVA-CLIP ViT-g tokens → aligner; cue ' image: '");
  reg.add<xib::ModalityPrompts>("image", xib::prompts_factory(xib::image::image_prompts()),
                                "the image cue and instruction templates (caption, qa)");
  reg.add<xib::Encoder>(
      "efficientnet_lite0",
      [](const xib::FactoryArgs& a) {
        return xib::image::make_encoder(xib::bind<xib::image::EncoderOptions>(a.options));
      },
      "EfficientNet-Lite0 (ImageNet), last feature map as tokens [B, 49, 1280] at 224 px");
  reg.add<xib::Encoder>(
      "eva_vit_g",
      [](const xib::FactoryArgs& a) {
        auto o = xib::bind<xib::image::EncoderOptions>(a.options);
        o.type = "eva_vit_g";
        return xib::image::make_encoder(o);
      },
      "EVA-CLIP ViT-g/14 (39 blocks, no final norm), tokens [B, 257, 1408] at 224 px");
}
