/**
 * @attachkit/core — the public API: the stage contract, the pipeline, the
 * pre-exec program, libc access, errors. Plugins use only what is exported here.
 */
export * from './di.js';
export { AttachError, ErrorCodes, isAttachError, SyscallError, type AttachErrorDetails, type ErrorCode } from './errors.js';
export * from './libc/constants.js';
export { describeErrno, errnoMessage, errnoName } from './libc/errno.js';
export { controlMessage, KoffiLibc, LIBC, openHow, realLibc, setKoffiLoader, type KoffiModule, type Libc, type ProcessExit, type ReceivedMessage } from './libc/libc.js';
export { syscallNumber, SyscallTable, type SyscallDefinitions, type SyscallName, type SyscallNumbers } from './libc/syscalls.js';
export { CORE_PHASES, INTERMEDIATE_PHASES, isPhase, PHASES, type Phase } from './program/phases.js';
export { bytes, cstring, imm, resultOf, scratch, scratchAt, type Arg, type OpHandle, type OpInfo, type ScratchBlock } from './program/args.js';
export {
  FIRST_PASSED_FD, PreExecProgram,
  type ExecSpec, type ExecFdOptions, type ProgramEmitter, type SerializedProgram, type SyscallOptions,
} from './program/program.js';
export { executorPath } from './executor/image.js';
export type { IntermediateProcess, StdioOption } from './executor/launch.js';
export { AttachedProcess, TERMINAL, type AttachedTerminal, type AttachOutput, type AttachResult, type OpenTerminal, type OutputOptions } from './pipeline/attached.js';
export { COMMAND_IDENTITY, CONTAINER_CONFIG, contextKey, type ContainerConfig, type ContextKey, type ResolvedTarget, type StageContext } from './pipeline/context.js';
export { orderStages } from './pipeline/order.js';
export { pluginOptions, registerPluginOptions } from './pipeline/registrations.js';
export { Pipeline, type StagePlanEntry } from './pipeline/pipeline.js';
export { checkTerminalSize, checkTty, hasTargetPid, normalizeEnv, type AttachRequest, type AttachTarget, type AttachTargets, type ElevatedPrivilege, type EnvOptions, type EnvPolicy, type NormalizedEnv, type TtyOptions } from './pipeline/request.js';
export { TARGET_RESOLVER, type TargetResolver } from './pipeline/target.js';
export { enabledByDefault, optional, refId, STAGE, type Stage, type StageRef, type StageToggle } from './pipeline/stage.js';
export { BuildEnvironment, LXC_DEFAULT_PATH } from './stages/build-env.js';
export {
  CONTAINER_MODEL, type CapabilitySets, type ContainerCgroups, type ContainerModel, type ContainerUser, type ModelFailure, type ResourceLimit, type SeccompSource,
} from './pipeline/model.js';
export { allCapabilities, capabilityBit, CAPABILITY_NAMES } from './libc/capabilities.js';
export { DEFAULT_COMMAND, ExecCommand } from './stages/exec-command.js';
export { PreserveFds } from './stages/preserve-fds.js';
export { ResolveTarget } from './stages/resolve-target.js';
export { ARCHITECTURES, personalityOf, SetPersonality } from './stages/set-personality.js';
export { RLIM_INFINITY, RLIMITS, SetResourceLimits } from './stages/set-rlimits.js';
export { SetOomScoreAdj } from './stages/set-oom-score-adj.js';
export { SetUmask } from './stages/set-umask.js';
export { describeMap, insideId, isMapped, namespaceRootOwner, parseIdMap, type IdRange } from './proc/id-map.js';
export { fileKind, openInRoot, readLinesInRoot, TARGET_FILE_MAX_BYTES, TargetFileError, type ReadInRootOptions } from './proc/target-root.js';
export { corePlugin, createPipeline, definePlugin, type AttachPlugin, type CreatePipelineOptions } from './plugin.js';
export { parseJsonExact } from './json.js';
