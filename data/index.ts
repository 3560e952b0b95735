// Data: datasets (Fashion-MNIST, image folders, in-memory arrays), decoding, SimCLR augmentations on
// the GPU, and the prefetching loader.
export { ArrayDataset, IMAGENET_NORMALIZATION, type ImageDataset, type Sample, type Normalization } from './dataset.js';
export { parseIdx, readIdx, type IdxArray } from './idx.js';
export { FashionMNIST, FASHION_MNIST_CLASSES, FASHION_MNIST_DEFAULT_DIR, FASHION_MNIST_NORMALIZATION, fashionMnistFiles, type FashionMNISTOptions } from './fashion_mnist.js';
export { decodeImage, ImageDecodeError, type DecodedImage } from './decode.js';
export { resizeImage, resizeFloat } from './resize.js';
export { ImageFolder, type ImageFolderOptions } from './image_folder.js';
export { resolveAugment, sampleView, sampleCrop, gaussianKernel, blurRadius, NO_AUGMENT, type SimCLRAugmentOptions, type ResolvedAugment, type ViewParams } from './simclr.js';
export { augmentViews, uploadSources, type SourceBatch } from './augment.js';
export { DataLoader, type LoaderOptions, type Batch, type EpochSummary } from './loader.js';
