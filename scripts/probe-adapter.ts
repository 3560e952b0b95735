// Prints the WebGPU adapter the engine will use (name, backend, relied-on limits, features),
// or a clear error saying what is missing. `--quiet` prints nothing and only sets the exit code.
import { initDevice } from '../engine/device.js';

const quiet = process.argv.includes('--quiet');
try {
  const { summary } = await initDevice();
  if (!quiet) {
    console.log(`WebGPU adapter: ${summary.description || summary.device} (${summary.vendor}, ${summary.architecture})`);
    console.log(`  backend: ${summary.backend}${summary.isSoftware ? ' (software)' : ''}; subgroup size ${summary.subgroupSize || 'n/a'}`);
    console.log(`  features: ${summary.features.join(', ') || 'none of shader-f16, subgroups, timestamp-query'}`);
    for (const [k, v] of Object.entries(summary.limits)) console.log(`  ${k}: ${v}`);
  }
  process.exit(0);
} catch (e) {
  if (!quiet) console.error(`No usable WebGPU adapter: ${(e as Error).message}`);
  process.exit(1);
}
