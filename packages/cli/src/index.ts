export { defaultPipeline, defaultPlugins } from './pipeline.js';
export { main } from './main.js';
