// Stub of k6/execution: a test-wide iteration counter.
let n = 0;
export default {
  scenario: {
    get iterationInTest() {
      return n++;
    },
  },
  test: { options: { executionSegment: '0:1' } },
};
