// The package as a user gets it: `npm pack`, install the tarball into an empty folder, import the
// engine by its package name and run a small program on the GPU.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../helpers.js';

describe('package', function () {
  this.timeout(180000);
  it('installs from a packed tarball and runs a program against the package root', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webgpu-dl-pack-'));
    try {
      const packed = execFileSync('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }));
      execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent', join(dir, packed)], { cwd: dir, stdio: 'pipe' });
      writeFileSync(
        join(dir, 'main.js'),
        `import { initDevice, tensor, matmul, tidy } from 'webgpu-dl';
await initDevice();
const a = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
const y = tidy(() => { const l = matmul(a, a).sum(); l.backward(); return l; });
console.log(JSON.stringify({ y: await y.item(), g: Array.from(await a.grad.toArray()) }));
process.exit(0);
`,
      );
      const out = execFileSync('node', ['main.js'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const res = JSON.parse(out.trim().split('\n').pop()!);
      // sum(A @ A) for A = [[1,2],[3,4]] is 7+10+15+22 = 54; d/dA sum(A@A) = 1 1^T A^T + A^T 1 1^T
      expect(res.y).to.equal(54);
      expect(res.g).to.deep.equal([7, 11, 9, 13]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
