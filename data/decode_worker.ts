// Worker thread entry of the decode pool: loads one image file per message.
import { parentPort } from 'node:worker_threads';
import { loadImageFile, type Target } from './load_image.js';

interface Job {
  id: number;
  path: string;
  target: Target;
}

parentPort!.on('message', async (job: Job) => {
  try {
    const pixels = await loadImageFile(job.path, job.target);
    parentPort!.postMessage({ id: job.id, ok: true, pixels }, [pixels.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, ok: false, reason: (e as Error).message, decodeError: (e as Error).name === 'ImageDecodeError' });
  }
});
