// bench/gemm_parts.ts: the source rewrites it times the GEMM under (engine/kernels.ts setSourceRewrite)
// change what they claim to, a rewritten kernel really runs (its product is wrong) and the written one
// comes back afterwards, and both modes run end to end on a small product.
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { panelBinding, setPanelTextureBinding, setSourceRewrite, sourceRewriteCount } from '../../engine/kernels.js';
import { fetchCosts, FETCH_FORMS, gemmParts, PART_FORMS, rewriteFor } from '../../bench/gemm_parts.js';
import { setMatmulKernel } from '../../engine/ops/matmul.js';
import { assertClose, randomData, scaledTol } from '../helpers.js';
import { refMatmul } from '../kernels/ref.js';

describe('bench/gemm_parts: where a GEMM spends its time', () => {
  const S = () => E.deviceContext().summary.subgroupSize;
  const textureGemm = () => ({ family: 'bcast' as const, tm: 2 * S(), tn: 8, wg: 1, subgroup: S(), pack: true, tex: true });
  const hasSubgroups = () => E.deviceContext().features.has('subgroups') && S() >= 4;

  it('each rewrite replaces the texel functions it names, in both binding forms, and nothing else', () => {
    for (const form of ['storage', 'sampled'] as const) {
      setPanelTextureBinding(form);
      try {
        const at = panelBinding('var at: texture_2d<u32>').fn;
        const bt = panelBinding('var bt: texture_2d<u32>').fn;
        const src = `${at}\n${bt}\nfn main() { let x = at_texel(vec2<u32>(1u, 2u)); }`;
        expect(rewriteFor('as written'), form).to.equal(null);
        const noLoads = rewriteFor('no loads')!('k', src);
        expect(noLoads, `${form}: no loads`).not.to.include('textureLoad');
        expect(noLoads, `${form}: the caller stays`).to.include('let x = at_texel(vec2<u32>(1u, 2u));');
        const noA = rewriteFor('no A loads')!('k', src);
        expect(noA.split('textureLoad').length - 1, `${form}: no A loads keeps B's`).to.equal(1);
        expect(noA, form).to.include(bt);
        const noB = rewriteFor('no B loads')!('k', src);
        expect(noB, form).to.include(at);
        expect(noB.split('textureLoad').length - 1, `${form}: no B loads keeps A's`).to.equal(1);
        const l1 = rewriteFor('loads from L1')!('k', src);
        expect(l1.split('(c & vec2<u32>(15u, 15u))').length - 1, `${form}: both fetches read the first 16 x 16 texels`).to.equal(2);
        expect(rewriteFor('empty k loop')!('k', src), `${form}: no k loop, nothing to empty`).to.equal(src);
      } finally {
        setPanelTextureBinding('storage');
      }
    }
  });

  it('a rewritten GEMM runs instead of the written one (its product is wrong), and the written one returns after', async function () {
    if (!hasSubgroups()) this.skip();
    const [M, K, N] = [37, 64, 72];
    const A = randomData(M * K, 501);
    const B = randomData(K * N, 502);
    const a = E.tensor(A, [M, K]);
    const b = E.tensor(B, [K, N]);
    const ref = refMatmul(A, B, M, N, K);
    try {
      setMatmulKernel('gemm', textureGemm());
      setSourceRewrite({ tag: 'test-no-loads', rewrite: rewriteFor('no loads')! });
      const wrong = E.matmul(a, b);
      expect(sourceRewriteCount(), 'kernels rewritten').to.be.greaterThan(0);
      setSourceRewrite(null);
      const got = await wrong.toArray();
      let far = 0;
      for (let i = 0; i < got.length; i++) if (!(Math.abs(got[i] - ref[i]) <= 1e-3 * (1 + Math.abs(ref[i])))) far++;
      expect(far, 'entries of the no-loads product away from the true one').to.be.greaterThan(got.length / 2);
      // every operand value the rewrite makes lies in [1, 1.008), never a (slow) denormal, so each entry
      // of the product is a sum of K products in [1, 1.016)
      for (let i = 0; i < got.length; i++) if (!(got[i] >= K && got[i] <= K * 1.0161)) expect.fail(`no-loads entry ${i} = ${got[i]}, outside [K, 1.0161 K]`);
      wrong.dispose();
      // with an empty k loop no accumulator is ever updated: the product is all zeros
      setSourceRewrite({ tag: 'test-empty-loop', rewrite: rewriteFor('empty k loop')! });
      const empty = E.matmul(a, b);
      expect(sourceRewriteCount(), 'kernels rewritten (empty k loop)').to.be.greaterThan(0);
      setSourceRewrite(null);
      const zeros = await empty.toArray();
      empty.dispose();
      expect(zeros.some((x) => x !== 0), 'an entry of the empty-loop product that is not 0').to.equal(false);
      const right = E.matmul(a, b);
      assertClose(await right.toArray(), ref, scaledTol(ref), 'the written kernel after the rewrite is cleared');
      right.dispose();
    } finally {
      setSourceRewrite(null);
      setMatmulKernel('gemm', null);
      [a, b].forEach((t) => t.dispose());
    }
  });

  it('gemmParts times every form of a texture-reading product and checks the written one; fetchCosts times every fetch form', async function () {
    if (!hasSubgroups()) this.skip();
    const minMs = process.env.BENCH_MIN_MS;
    process.env.BENCH_MIN_MS = '1';
    try {
      setMatmulKernel('gemm', textureGemm());
      const p = await gemmParts(64, 128, 128, 1);
      for (const f of PART_FORMS) expect(p.ms[f], f).to.be.greaterThan(0);
      for (const f of PART_FORMS.filter((x) => x !== 'as written')) expect(p.rewritten[f], `${f}: kernels rewritten`).to.be.greaterThan(0);
      expect(p.rewritten['as written']).to.equal(0);
      expect(p.resultError).to.be.at.most(1e-4);
      // tile of 2S rows x 8S columns: (2 A + 8 B) fetch calls a subgroup per 4-k step
      const cols = 8 * S();
      expect(p.fetchCalls).to.equal(Math.ceil(64 / (2 * S())) * Math.ceil(128 / cols) * 32 * (2 + 8));
      const ns = await fetchCosts(1, 2);
      for (const f of FETCH_FORMS) expect(ns[f], f).to.be.greaterThan(0).and.lessThan(1e6);
    } finally {
      if (minMs === undefined) delete process.env.BENCH_MIN_MS;
      else process.env.BENCH_MIN_MS = minMs;
      setMatmulKernel('gemm', null);
    }
  });
});
