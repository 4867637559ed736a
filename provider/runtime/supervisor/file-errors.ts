import {
  AlreadyExistsError,
  DirectoryNotEmptyError,
  FileTooLargeError,
  InvalidArgumentError,
  IsADirectoryError,
  NotADirectoryError,
  NotFoundError,
  SandfleetError,
} from "../../errors.ts";

/** Why a file call failed, as both file paths name it (the supervisor's protocol codes). */
export type FileErrorCode =
  | "not_found"
  | "is_a_directory"
  | "not_a_directory"
  | "already_exists"
  | "not_empty"
  | "too_large"
  | "invalid"
  | "permission_denied"
  | "failed";

const TYPES: Partial<Record<FileErrorCode, new (message: string) => SandfleetError>> = {
  not_found: NotFoundError,
  is_a_directory: IsADirectoryError,
  not_a_directory: NotADirectoryError,
  already_exists: AlreadyExistsError,
  not_empty: DirectoryNotEmptyError,
  too_large: FileTooLargeError,
  invalid: InvalidArgumentError,
};

/** The words after "cannot <op> <path>: ", the same from both paths. */
export const FILE_REASONS: Partial<Record<FileErrorCode, string>> = {
  not_found: "no such file or folder",
  is_a_directory: "is a folder",
  not_a_directory: "is not a folder, or a part of it is a file",
  already_exists: "already exists",
  not_empty: "is a folder that is not empty; pass { recursive: true } to remove it with everything in it",
  permission_denied: "permission denied",
};

/** The typed error for a failed file call. */
export function fileError(code: string, message: string): SandfleetError {
  const type = TYPES[code as FileErrorCode] ?? SandfleetError;
  return new type(message);
}
