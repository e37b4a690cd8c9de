export { isMajority, majorityIndex } from './quorum.js';
