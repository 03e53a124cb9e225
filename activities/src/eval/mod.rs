//! The evaluation harness's pure parts: the ResearchCodeBench task format
//! ([`task_format`]), the bundle a task folder travels in ([`bundle`]), and the program that
//! runs a task's test on a copy of its folder in the sandbox ([`program`]), the paper's passages
//! for a snippet ([`retrieve`]) and the score table ([`table`]). The activities that
//! use them are `PrepareEvalTask` and `RecordEval` (`local/`) and `AnswerSnippet` (`llm/`).

/// The evaluation venv's builder (`annapurna eval env`), run with the execution venv's Python.
pub const EVAL_ENV_PY: &str = include_str!("eval_env.py");

pub mod bundle;
pub mod program;
pub mod retrieve;
pub mod table;
pub mod task_format;
