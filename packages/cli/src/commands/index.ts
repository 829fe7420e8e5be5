import Attach from './attach.js';
import Autocomplete from './autocomplete.js';
import Doctor from './doctor.js';
import Stages from './stages.js';

/**
 * The CLI's commands, for oclif's `explicit` command discovery: one module
 * that a bundle (and the V8 start-up snapshot, docs/startup.md) can hold,
 * instead of a directory oclif scans and imports file by file.
 */
export const COMMANDS = { attach: Attach, autocomplete: Autocomplete, doctor: Doctor, stages: Stages };
