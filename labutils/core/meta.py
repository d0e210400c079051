"""Facts about the course kept in one place: the repository URL, the notebook list."""
from __future__ import annotations

# The single place the repository URL lives. The first cell of every notebook is generated
# from it (``python -m labutils sync-notebooks``) and a test keeps them equal.
REPO_URL = "https://github.com/llm-lab-course/llm-lab"
# A fork, a mirror or a local clone (``file:///path/to/clone``) replaces it in the install cell at run time.
REPO_URL_VAR = "LABUTILS_REPO_URL"
PIP_SPEC = f"llm-lab @ git+{REPO_URL}"

INSTALL_CELL = f'''# Colab / a fresh kernel: install the course helpers if they are missing (torch is left as it is).
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("labutils") is None:
    _repo = os.environ.get("{REPO_URL_VAR}", "{REPO_URL}")  # a fork or a local clone
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"llm-lab @ git+{{_repo}}"], check=True)
    subprocess.run([sys.executable, "-m", "labutils", "data", "prepare"], check=False)'''

# The course map: (stem, English title, Chinese title, one line, minutes per profile smoke/cpu/gpu).
# Times are the expected wall time of one top-to-bottom run; notebooks that exist have measured figures
# in the README. Shared by the README, notebook 00 (course_map()) and the tests.
COURSE_MAP = [
    ("00_welcome_and_setup", "Welcome and set-up", "欢迎与环境配置",
     "check your hardware, pick a profile, drive a first widget", (0.5, 1, 1)),
    ("01_neural_network_math", "Neural-network maths", "神经网络的数学原理",
     "backprop by hand, gradient checks, optimizers racing on a loss surface", (0.5, 1, 1)),
    ("02_tokenization", "Tokenization", "分词与文本预处理",
     "train BPE, compare char/word/subword, segment Chinese", (1, 2, 2)),
    ("03_attention_and_transformer", "Attention and the Transformer", "注意力机制与 Transformer",
     "build a GPT block from scratch and prove it equals the library's", (1, 4, 2)),
    ("04_pretraining_a_gpt", "Pretraining a GPT", "自监督预训练：从零训练 GPT",
     "pretrain a tiny GPT, read its loss curve, sample from it", (1, 3, 10)),
    ("05_masked_lm_and_transfer", "Masked LM and transfer learning", "掩码语言模型与迁移学习",
     "pretrain with masking, use a real pretrained encoder's features", (1, 5, 6)),
    ("06_finetuning_for_classification", "Fine-tuning for classification", "微调与文本分类",
     "fine-tune a real pretrained model and evaluate it honestly", (1, 6, 6)),
    ("07_finetuning_challenges", "Fine-tuning challenges", "微调中的挑战与对策",
     "diagnose and fix overfitting, bad LRs, shift, imbalance with experiments", (1, 6, 10)),
    ("08_parameter_efficient_finetuning", "Parameter-efficient fine-tuning", "参数高效微调",
     "LoRA by hand, then peft; parameters vs accuracy", (1.5, 10, 6)),
    ("09_prompting_and_instruction_tuning", "Prompting and instruction tuning", "提示学习与指令微调",
     "prompts, chat templates, instruction-tune a small LM", (1.5, 7, 8)),
    ("10_parallel_and_efficient_training", "Parallel and efficient training", "并行与高效训练",
     "DDP on 2 processes, memory estimates, mixed precision, throughput", (1, 1.5, 5)),
    ("11_compression", "Compression", "模型压缩：剪枝、量化与蒸馏",
     "prune, quantize, distil; a size/speed/accuracy Pareto plot", (1.5, 8, 6)),
    ("12_deployment_and_serving", "Deployment and serving", "模型部署与服务",
     "ONNX export, an HTTP service, batching, KV cache, p50/p99", (1.5, 4, 5)),
    ("13_applications", "Applications", "大模型应用：分类、NER、问答与对话",
     "classification, NER, QA and chat end to end", (1.5, 8, 8)),
    ("14_responsible_llms", "Responsible LLMs", "可解释性、隐私、公平与鲁棒性",
     "explain a prediction, find memorised secrets, measure a bias", (1.5, 6, 6)),
    ("15_capstone_pipeline", "Capstone pipeline", "综合项目：端到端流水线",
     "data to a served, compressed, evaluated model in one run", (1.5, 10, 10)),
]
