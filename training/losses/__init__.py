"""The training objectives (``objectives``: adversarial, KL, perceptual, feature matching, keypoint
and head-pose priors) and what they are computed with: VGG-19 features (``vgg``), BFM landmarks
(``bfm``), face-vid2vid's image discriminator (``discriminator``), thin-plate warps
(``transforms``) and face-vid2vid's keypoint transformation (``keypoints``)."""
