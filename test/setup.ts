// Mocha root hooks: one device for the whole suite.
import { initDevice } from '../engine/index.js';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60000);
    await initDevice();
  },
};
